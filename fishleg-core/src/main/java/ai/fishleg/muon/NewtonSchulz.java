package ai.fishleg.muon;

import ai.djl.ndarray.NDArray;

/**
 * Muon's orthogonalisation: five (by default) quintic Newton-Schulz iterations
 * X ← aX + (bA + cA²)X with A = XXᵀ and (a, b, c) = (3.4445, −4.7750, 2.0315), started from the
 * matrix divided by its Frobenius norm (so every singular value is at most 1) and transposed so
 * that it has no more rows than columns. The result approximates the polar factor UVᵀ of the
 * matrix USVᵀ: the coefficients maximise the slope at zero, so after five iterations the singular
 * values lie in about [0.7, 1.2] rather than at exactly 1 (Jordan et al. 2024, muon.py's
 * {@code zeropower_via_newtonschulz5}).
 *
 * <p>Works on a matrix or a batch of matrices (the last two axes); computes in the input's type.
 */
public final class NewtonSchulz {

    /** The quintic's coefficient of X. */
    public static final double A = 3.4445;
    /** The quintic's coefficient of (XXᵀ)X. */
    public static final double B = -4.7750;
    /** The quintic's coefficient of (XXᵀ)²X. */
    public static final double C = 2.0315;
    /** Added to the Frobenius norm before dividing by it (the reference's 1e-7). */
    public static final double NORM_EPS = 1e-7;

    private NewtonSchulz() {}

    /**
     * @param g a matrix (rows, cols) or a batch of them (..., rows, cols)
     * @param steps number of iterations, >= 1
     * @return an approximately orthogonal matrix of the same shape, attached to g's manager
     */
    public static NDArray orthogonalize(NDArray g, int steps) {
        int nd = g.getShape().dimension();
        if (nd < 2) {
            throw new IllegalArgumentException("Newton-Schulz orthogonalises matrices; got shape "
                    + g.getShape() + " (flatten a convolution kernel to (out, in·k·k) first)");
        }
        if (steps < 1) {
            throw new IllegalArgumentException("Newton-Schulz needs at least 1 step, got " + steps);
        }
        boolean tall = g.getShape().get(nd - 2) > g.getShape().get(nd - 1);
        NDArray x = tall ? transposeLast(g) : g;
        x = x.div(x.square().sum(new int[] {nd - 2, nd - 1}, true).sqrt().add(NORM_EPS));
        for (int i = 0; i < steps; i++) {
            NDArray a = x.matMul(transposeLast(x));
            NDArray b = a.mul(B).add(a.matMul(a).mul(C));
            x = x.mul(A).add(b.matMul(x));
        }
        return tall ? transposeLast(x) : x;
    }

    /** Swaps the last two axes. */
    private static NDArray transposeLast(NDArray x) {
        int nd = x.getShape().dimension();
        int[] axes = new int[nd];
        for (int i = 0; i < nd; i++) {
            axes[i] = i;
        }
        axes[nd - 2] = nd - 1;
        axes[nd - 1] = nd - 2;
        return x.transpose(axes);
    }
}
