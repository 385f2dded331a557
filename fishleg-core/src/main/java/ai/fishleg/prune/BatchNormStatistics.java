package ai.fishleg.prune;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.util.Forward;

/**
 * Re-estimates the running mean and variance of a network's {@link BatchNorm} layers after its
 * weights changed (pruning and its compensation move every activation that follows): the
 * statistics a BatchNorm uses at inference are those of the network it was trained as, and after
 * pruning they no longer match the activations.
 *
 * <p>The new statistics come from training-mode forward passes on {@code batches} batches (no
 * gradients), each of which moves the running statistics towards the batch's by the layer's
 * momentum, so the old statistics keep a weight of momentum^batches (0.9^100 ≈ 3e-5 with DJL's
 * default momentum 0.9).
 */
public final class BatchNormStatistics {

    private BatchNormStatistics() {}

    /**
     * @param model a network
     * @return how many {@link BatchNorm} layers (and subclasses) it has, at any depth
     */
    public static int count(Block model) {
        int n = model instanceof BatchNorm ? 1 : 0;
        for (Pair<String, Block> child : model.getChildren()) {
            n += count(child.getValue());
        }
        return n;
    }

    /**
     * Re-estimates the running statistics of every BatchNorm layer of the model; a model without
     * one is left as it is (no forward pass is made).
     *
     * @param model the network (initialised)
     * @param data training batches (their inputs are used)
     * @param batches how many forward passes, at least 1
     * @param manager the parent of the temporary managers of the passes
     * @return the number of BatchNorm layers re-estimated
     * @throws IllegalArgumentException if {@code batches} is below 1
     */
    public static int recompute(Block model, BatchSource data, int batches, NDManager manager) {
        if (batches < 1) {
            throw new IllegalArgumentException("batches must be at least 1, got " + batches);
        }
        int layers = count(model);
        if (layers == 0) {
            return 0;
        }
        for (int i = 0; i < batches; i++) {
            try (NDManager scope = manager.newSubManager()) {
                Forward.forward(model, data.nextNonEmpty(scope, "BatchNorm statistics").data());
            }
        }
        return layers;
    }
}
