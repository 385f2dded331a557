package ai.fishleg.layers;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.BatchNorm;
import java.util.List;

/**
 * The curvature block of a batch normalisation layer (reference {@code FishBatchNorm2d}, SPEC
 * 10.4), for DJL's {@link BatchNorm} (any axis, and subclasses such as {@code GhostBatchNorm}): a
 * diagonal Q over the scale γ ({@code gamma}) and shift β ({@code beta}), see {@link
 * DiagonalBlock}.
 *
 * <p>The running mean and variance are not parameters of Q. FishLeg's auxiliary forward passes
 * (sampling, sampled-label gradients, warm-up) run the layer in training mode, which moves those
 * statistics in place; the optimizer saves and restores them around every such pass, so they
 * follow the user's training batches only.
 */
public final class FishBatchNorm extends DiagonalBlock {

    private FishBatchNorm(String name, BatchNorm layer, List<Parameter> params, NDManager parent) {
        super(name, layer, params, parent);
    }

    /**
     * Attaches a block to an initialised DJL batch normalisation layer.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised), with a trainable scale or shift
     * @param parent manager under which the block's tensors live
     * @param options ignored (a diagonal block has no A and no Qg form)
     * @return the block
     */
    public static FishBatchNorm forLayer(
            String name, BatchNorm layer, NDManager parent, CurvatureOptions options) {
        return new FishBatchNorm(name, layer, trainableParameters(name, layer), parent);
    }
}
