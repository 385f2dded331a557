package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.util.Forward;

/**
 * The reference's {@code draw(model, X)}: returns the inputs with targets sampled from the model's
 * predictive distribution p(y | f(X)). FishLeg calls it without recording gradients.
 */
@FunctionalInterface
public interface DrawFunction {

    /**
     * @param model the model
     * @param inputs the inputs X
     * @return (X, y~) with y~ ~ p(y | f(X))
     */
    LabeledBatch draw(Block model, NDList inputs);

    /**
     * The usual draw: a training-mode forward pass, then {@link FishLikelihood#draw}.
     *
     * @param likelihood the likelihood
     * @return the function
     */
    static DrawFunction of(FishLikelihood likelihood) {
        return (model, inputs) -> {
            NDArray preds = Forward.forward(model, inputs).singletonOrThrow();
            return new LabeledBatch(inputs, new NDList(likelihood.draw(preds)));
        };
    }
}
