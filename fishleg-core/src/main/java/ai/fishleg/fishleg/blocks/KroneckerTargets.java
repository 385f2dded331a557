package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.util.Optional;

/**
 * The factors R and L of a {@link KroneckerBlock}'s λ for a target curvature, computed in
 * float64 on the host (the block writes them):
 *
 * <ul>
 *   <li>the diagonal warm-up without A: diagonal R and L with diag(M ⊗ N) ≈ D ⊙ D, from the
 *       leading singular triplet (σ, u, w) of the positive matrix P = D ⊙ D found by power
 *       iteration: R_ii = √(√σ |u_i|) and L_jj = √(√σ |w_j|), so that M_ii N_jj = σ |u_i| |w_j|
 *       ({@link #diagonalWarmup});
 *   <li>the Kronecker start: R and L the triangular square roots of given M and N ({@link
 *       #kroneckerStart}).
 * </ul>
 */
final class KroneckerTargets {

    private KroneckerTargets() {}

    /**
     * R and L of a block's λ, row-major (R a vector when the out factor is diagonal).
     *
     * @param r R
     * @param l L (k x k)
     * @param outcome whether a jitter was needed
     */
    record Factors(double[] r, double[] l, TriangularRoots.Outcome outcome) {}

    /**
     * The diagonal warm-up without A (docs/ALGORITHM.md §6.2 [FIX]).
     *
     * @param d D (rows x cols)
     * @param out the form of the out factor
     * @return R and L, diagonal, in the block's shapes
     */
    static Factors diagonalWarmup(NDArray d, KroneckerBlock.OutFactor out) {
        int rows = (int) d.getShape().get(0);
        int cols = (int) d.getShape().get(1);
        boolean diagonal = out == KroneckerBlock.OutFactor.DIAGONAL;
        double[] p = d.toType(DataType.FLOAT64, true).square().toDoubleArray();
        double[][] diagonals = diagonals(p, rows, cols);
        double[] rDiag = new double[diagonal ? rows : rows * rows];
        for (int i = 0; i < rows; i++) {
            rDiag[diagonal ? i : i * rows + i] = diagonals[0][i];
        }
        double[] lDiag = new double[cols * cols];
        for (int j = 0; j < cols; j++) {
            lDiag[j * cols + j] = diagonals[1][j];
        }
        return new Factors(rDiag, lDiag, TriangularRoots.Outcome.SET);
    }

    /**
     * The Kronecker start: upper-triangular R with RᵀR = M (with a diagonal out factor, R² takes
     * M's diagonal) and upper-triangular L with LLᵀ = N, or LᵀL = N under {@link
     * KroneckerBlock.InFactor#LT_L}; each matrix symmetrised first.
     *
     * @param outInverse M (out x out)
     * @param inInverse N (k x k)
     * @param out the form of the out factor
     * @param in how L forms N
     * @return R and L, or empty when a matrix did not factorise (even with a jitter)
     */
    static Optional<Factors> kroneckerStart(NDArray outInverse, NDArray inInverse,
            KroneckerBlock.OutFactor out, KroneckerBlock.InFactor in) {
        int rows = (int) outInverse.getShape().get(0);
        int cols = (int) inInverse.getShape().get(0);
        double[] m = symmetric(outInverse, rows);
        double[] n = symmetric(inInverse, cols);
        Optional<TriangularRoots.Root> r;
        if (out == KroneckerBlock.OutFactor.DIAGONAL) {
            double[] diagonal = new double[rows];
            for (int i = 0; i < rows; i++) {
                diagonal[i] = Math.sqrt(Math.max(m[i * rows + i], 0));
            }
            r = Optional.of(new TriangularRoots.Root(diagonal, TriangularRoots.Outcome.SET));
        } else {
            r = TriangularRoots.upper(m, rows, TriangularRoots.Gram.COLUMNS);
        }
        Optional<TriangularRoots.Root> l = TriangularRoots.upper(n, cols,
                in == KroneckerBlock.InFactor.LT_L ? TriangularRoots.Gram.COLUMNS
                        : TriangularRoots.Gram.ROWS);
        if (r.isEmpty() || l.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Factors(r.get().root(), l.get().root(),
                r.get().outcome().and(l.get().outcome())));
    }

    /** (S + Sᵀ)/2 in float64, row-major. */
    private static double[] symmetric(NDArray s, int n) {
        double[] v;
        try (NDArray d = s.toType(DataType.FLOAT64, true)) {
            v = d.toDoubleArray();
        }
        double[] out = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                out[i * n + j] = 0.5 * (v[i * n + j] + v[j * n + i]);
            }
        }
        return out;
    }

    /**
     * @param p D ⊙ D, row-major rows x cols
     * @param rows rows of D
     * @param cols columns of D
     * @return {the diagonal of R (length rows), the diagonal of L (length cols)}
     */
    private static double[][] diagonals(double[] p, int rows, int cols) {
        double[] u = new double[rows];
        double[] w = new double[cols];
        java.util.Arrays.fill(w, 1);
        double sigma = 0;
        for (int iter = 0; iter < 500; iter++) {
            normalize(w);
            for (int i = 0; i < rows; i++) {
                double acc = 0;
                for (int j = 0; j < cols; j++) {
                    acc += p[i * cols + j] * w[j];
                }
                u[i] = acc;
            }
            normalize(u);
            double prev = sigma;
            for (int j = 0; j < cols; j++) {
                double acc = 0;
                for (int i = 0; i < rows; i++) {
                    acc += p[i * cols + j] * u[i];
                }
                w[j] = acc;
            }
            sigma = Math.sqrt(sq(w));
            if (Math.abs(sigma - prev) <= 1e-15 * sigma) {
                break;
            }
        }
        normalize(w);
        double root = Math.sqrt(sigma);
        double[] r = new double[rows];
        for (int i = 0; i < rows; i++) {
            r[i] = Math.sqrt(root * Math.abs(u[i]));
        }
        double[] l = new double[cols];
        for (int j = 0; j < cols; j++) {
            l[j] = Math.sqrt(root * Math.abs(w[j]));
        }
        return new double[][] {r, l};
    }

    private static double sq(double[] x) {
        double s = 0;
        for (double e : x) {
            s += e * e;
        }
        return s;
    }

    private static void normalize(double[] x) {
        double n = Math.sqrt(sq(x));
        if (n > 0) {
            for (int i = 0; i < x.length; i++) {
                x[i] /= n;
            }
        }
    }
}
