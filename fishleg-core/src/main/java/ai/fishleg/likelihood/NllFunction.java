package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.util.Forward;

/**
 * The reference's {@code nll(model, (X, y))}: evaluates the model on a batch and returns the
 * scalar negative log-likelihood (a mean over the batch) that FishLeg differentiates.
 */
@FunctionalInterface
public interface NllFunction {

    /**
     * @param model the model
     * @param batch inputs and targets
     * @return a scalar, differentiable with respect to the model's parameters
     */
    NDArray nll(Block model, LabeledBatch batch);

    /**
     * The usual nll: a training-mode forward pass of the model on the batch's inputs, scored by the
     * likelihood against the batch's (first) targets.
     *
     * @param likelihood the likelihood
     * @return the function
     */
    static NllFunction of(FishLikelihood likelihood) {
        return (model, batch) -> {
            NDArray preds = Forward.forward(model, batch.data()).singletonOrThrow();
            return likelihood.nll(preds, batch.label());
        };
    }
}
