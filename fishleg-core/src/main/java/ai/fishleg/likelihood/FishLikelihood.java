package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import java.util.List;

/**
 * A likelihood p(y | f(x)): maps the model's outputs (predictions f) to a distribution over
 * targets y. FishLeg needs its negative log-likelihood (the training loss) and a sampler (to
 * estimate the Fisher matrix with labels drawn from the model).
 *
 * <p>Argument order is (predictions, observations) everywhere. All nlls are means over examples
 * (sums over output dimensions), see docs/ALGORITHM.md §7.1. Samples come from the likelihood's own
 * {@link Rng}, so they are reproducible from {@link #setSeed(long)} whatever the engine.
 */
public interface FishLikelihood extends RngOwner {

    /**
     * The negative log-likelihood of the observations (differentiable in {@code preds} and in
     * learnable likelihood parameters).
     *
     * @param preds model outputs f(x)
     * @param observations targets y
     * @return a scalar
     */
    NDArray nll(NDArray preds, NDArray observations);

    /**
     * Draws targets from p(y | f(x)).
     *
     * @param preds model outputs f(x) (not differentiated)
     * @return samples, in the predictions' manager
     */
    NDArray draw(NDArray preds);

    /** @return the random generator used by {@link #draw} */
    @Override
    Rng getRng();

    /** @param seed reseeds the generator used by {@link #draw} */
    default void setSeed(long seed) {
        getRng().setState(seed);
    }

    /** @return learnable parameters of the likelihood (empty for fixed likelihoods) */
    default List<NDArray> getParameters() {
        return List.of();
    }

    /**
     * Creates the curvature block of the learnable parameters, when there are any (the
     * reference's {@code init_aux}, {@code get_aux_parameters} and {@code Qv}).
     *
     * @param parent manager for the block's auxiliary tensors
     * @param initScale initial scale s of Q
     * @return the block, or null when the likelihood has no learnable parameters
     */
    default CurvatureBlock createCurvatureBlock(NDManager parent, double initScale) {
        return null;
    }
}
