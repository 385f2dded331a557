package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import java.util.Locale;

/**
 * The size of the auxiliary Adam step on each tensor of λ. Adam's step has about the same size
 * for every entry whatever the entry's magnitude, while the factors of a Kronecker start differ
 * by much (R about 10, L about 0.5 on the auto-encoder): the same learning rate moves L twenty
 * times faster, relative to its size, than R.
 */
public enum AuxStepScale {
    /** The learning rate as it is, for every tensor (the default). */
    ABSOLUTE,
    /**
     * The learning rate times the tensor's typical magnitude ({@link #magnitude}), so that the
     * learning rate is a relative step, the same for every factor.
     */
    PER_FACTOR;

    /**
     * @param tensor one aux tensor
     * @return for a square matrix (a triangular factor), the root mean square of its diagonal;
     *     for any other tensor, the root mean square of its entries; 1 when that is 0 or not finite
     */
    static double magnitude(NDArray tensor) {
        long[] s = tensor.getShape().getShape();
        double ms;
        if (s.length == 2 && s[0] == s[1]) {
            try (NDArray d = tensor.diagonal(); NDArray sq = d.square(); NDArray m = sq.mean()) {
                ms = m.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
        } else {
            try (NDArray sq = tensor.square(); NDArray m = sq.mean()) {
                ms = m.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).getDouble();
            }
        }
        double r = Math.sqrt(ms);
        return r > 0 && Double.isFinite(r) ? r : 1;
    }

    /**
     * @param lr the learning rate of this update
     * @param tensor the aux tensor the step is for
     * @return the learning rate of this tensor's step
     */
    double rate(double lr, NDArray tensor) {
        return this == ABSOLUTE ? lr : lr * magnitude(tensor);
    }

    /**
     * @param name {@code "absolute"} or {@code "per-factor"} (any case, - or _)
     * @return the value
     */
    public static AuxStepScale parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "auxStepScale must be one of absolute, per-factor; got '" + name + "'", e);
        }
    }
}
