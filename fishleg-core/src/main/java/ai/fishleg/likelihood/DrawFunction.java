package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.util.Forward;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;

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
        return new LikelihoodDraw(likelihood);
    }

    /** The draw of a likelihood; exposes the likelihood's generator for checkpoints. */
    final class LikelihoodDraw implements DrawFunction, RngOwner {
        private final FishLikelihood likelihood;

        private LikelihoodDraw(FishLikelihood likelihood) {
            this.likelihood = java.util.Objects.requireNonNull(likelihood, "likelihood");
        }

        @Override
        public LabeledBatch draw(Block model, NDList inputs) {
            NDArray preds = Forward.forward(model, inputs).singletonOrThrow();
            return new LabeledBatch(inputs, new NDList(likelihood.draw(preds)));
        }

        @Override
        public Rng getRng() {
            return likelihood.getRng();
        }
    }
}
