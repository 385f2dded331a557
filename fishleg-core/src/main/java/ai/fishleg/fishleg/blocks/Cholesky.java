package ai.fishleg.fishleg.blocks;

/**
 * Triangular square roots of a symmetric positive definite matrix, in the two forms FishLeg's
 * factors take: an upper-triangular R with RᵀR = S (the usual Cholesky factor, transposed), and an
 * upper-triangular L with LLᵀ = S (the Cholesky factor of S with rows and columns reversed).
 * Plain Java on row-major double arrays (about 0.2 s for n = 1000); used by the Kronecker start.
 */
final class Cholesky {

    private Cholesky() {}

    /**
     * @param s symmetric positive definite, row-major n x n
     * @param n its size
     * @return the upper-triangular R (row-major) with RᵀR = S
     * @throws IllegalArgumentException if S is not positive definite
     */
    static double[] upperWithGramOfColumns(double[] s, int n) {
        double[] c = lower(s, n);
        double[] r = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                r[j * n + i] = c[i * n + j]; // R = Cᵀ
            }
        }
        return r;
    }

    /**
     * @param s symmetric positive definite, row-major n x n
     * @param n its size
     * @return the upper-triangular L (row-major) with LLᵀ = S
     * @throws IllegalArgumentException if S is not positive definite
     */
    static double[] upperWithGramOfRows(double[] s, int n) {
        // With J the reversal, JSJ = CCᵀ (C lower) gives S = (JCJ)(JCJ)ᵀ, and JCJ is upper.
        double[] reversed = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                reversed[i * n + j] = s[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        double[] c = lower(reversed, n);
        double[] l = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                l[i * n + j] = c[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        return l;
    }

    /** The lower-triangular C with CCᵀ = S (Cholesky–Banachiewicz, row by row). */
    private static double[] lower(double[] s, int n) {
        double[] c = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = s[i * n + j];
                for (int k = 0; k < j; k++) {
                    sum -= c[i * n + k] * c[j * n + k];
                }
                if (i == j) {
                    if (!(sum > 0)) {
                        throw new IllegalArgumentException("the matrix is not positive definite"
                                + " (pivot " + sum + " at row " + i + " of " + n + ")");
                    }
                    c[i * n + i] = Math.sqrt(sum);
                } else {
                    c[i * n + j] = sum / c[j * n + j];
                }
            }
        }
        return c;
    }
}
