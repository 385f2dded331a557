package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;

/** Shared plumbing of the built-in likelihoods. */
abstract class AbstractLikelihood implements FishLikelihood {

    /** Default seed of the sampling generator. */
    static final long DEFAULT_SEED = 0x5EEDF15L;

    private final Rng rng = new Rng(DEFAULT_SEED);

    @Override
    public Rng getRng() {
        return rng;
    }

    /** @return observations in the predictions' element type and shape checked */
    static NDArray matchTargets(NDArray preds, NDArray observations) {
        if (!preds.getShape().equals(observations.getShape())) {
            throw new IllegalArgumentException(
                    "predictions have shape " + preds.getShape() + " but observations have shape "
                            + observations.getShape() + "; they must match");
        }
        if (observations.getDataType() == preds.getDataType()) {
            return observations;
        }
        return observations.toType(preds.getDataType(), false);
    }

    /** @return the number of leading (example) elements: product of all dims but the last */
    static long examples(Shape shape) {
        return shape.dimension() <= 1 ? 1 : shape.size() / shape.get(shape.dimension() - 1);
    }

    /** Standard normal noise shaped like {@code like}, in its manager and type. */
    NDArray gaussianNoise(NDArray like) {
        double[] z = rng.gaussians(Math.toIntExact(like.size()));
        return Tensors.create(like.getManager(), z, like.getShape(), like.getDataType());
    }

    /** Uniform [0,1) noise shaped like {@code like}, in its manager and type. */
    NDArray uniformNoise(NDArray like) {
        double[] u = rng.uniforms(Math.toIntExact(like.size()));
        return Tensors.create(like.getManager(), u, like.getShape(), like.getDataType());
    }
}
