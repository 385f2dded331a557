package ai.fishleg.fishleg.blocks;

/**
 * The diagonal warm-up of a Kronecker block without A: diagonal R and L with diag(M ⊗ N) ≈ D ⊙ D,
 * from the leading singular triplet (σ, u, w) of the positive matrix P = D ⊙ D found by power
 * iteration: R_ii = √(√σ |u_i|) and L_jj = √(√σ |w_j|), so that M_ii N_jj = σ |u_i| |w_j|.
 */
final class KroneckerWarmup {

    private KroneckerWarmup() {}

    /**
     * @param p D ⊙ D, row-major rows x cols
     * @param rows rows of D
     * @param cols columns of D
     * @return {the diagonal of R (length rows), the diagonal of L (length cols)}
     */
    static double[][] diagonals(double[] p, int rows, int cols) {
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
