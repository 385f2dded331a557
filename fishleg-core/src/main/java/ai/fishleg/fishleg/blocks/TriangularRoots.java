package ai.fishleg.fishleg.blocks;

import ai.fishleg.linalg.SymmetricMatrices;
import java.util.Optional;

/**
 * Triangular square roots of a symmetric positive definite matrix, in the two forms FishLeg's
 * factors take: an upper-triangular R with RᵀR = S (the transposed Cholesky factor), and an
 * upper-triangular L with LLᵀ = S (the Cholesky factor of S with rows and columns reversed). The
 * Cholesky factorisation is EJML's ({@link SymmetricMatrices#lowerCholesky}); a matrix that is not
 * numerically positive definite (as a float32 inverse can be) is retried with a jitter of
 * {@link #JITTERS} times its mean diagonal added to the diagonal.
 */
public final class TriangularRoots {

    /** The jitters tried after a failed factorisation, as multiples of the mean diagonal. */
    static final double[] JITTERS = {1e-6, 1e-5, 1e-4};

    /** What became of a layer's factors when they were set from matrices. */
    public enum Outcome {
        /** Set from the matrices as they were. */
        SET,
        /** Set, but a matrix needed a jitter on its diagonal to factorise. */
        SET_WITH_JITTER,
        /** A matrix did not factorise even with the largest jitter: the factors were kept. */
        KEPT;

        /**
         * @param other another outcome
         * @return the worse of the two
         */
        Outcome and(Outcome other) {
            return compareTo(other) >= 0 ? this : other;
        }
    }

    /** Which Gram product of the root gives S. */
    enum Gram {
        /** Upper-triangular R with RᵀR = S. */
        COLUMNS,
        /** Upper-triangular L with LLᵀ = S. */
        ROWS
    }

    /**
     * A root and how it was obtained.
     *
     * @param root the upper-triangular root, row-major n x n
     * @param outcome SET or SET_WITH_JITTER
     */
    record Root(double[] root, Outcome outcome) {}

    private TriangularRoots() {}

    /**
     * @param s symmetric, row-major n x n
     * @param n its size
     * @param gram which product of the root gives S
     * @return the root, with a jitter if one was needed; empty if none of {@link #JITTERS} helped
     */
    static Optional<Root> upper(double[] s, int n, Gram gram) {
        double meanDiagonal = 0;
        for (int i = 0; i < n; i++) {
            meanDiagonal += s[i * n + i] / n;
        }
        Optional<double[]> r = upperOnce(s, n, gram, 0);
        if (r.isPresent()) {
            return Optional.of(new Root(r.get(), Outcome.SET));
        }
        for (double j : JITTERS) {
            r = upperOnce(s, n, gram, j * Math.abs(meanDiagonal));
            if (r.isPresent()) {
                return Optional.of(new Root(r.get(), Outcome.SET_WITH_JITTER));
            }
        }
        return Optional.empty();
    }

    private static Optional<double[]> upperOnce(double[] s, int n, Gram gram, double jitter) {
        double[] m = s.clone();
        for (int i = 0; i < n; i++) {
            m[i * n + i] += jitter;
        }
        if (gram == Gram.COLUMNS) {
            return SymmetricMatrices.lowerCholesky(m, n).map(c -> transpose(c, n));
        }
        // With J the reversal, JSJ = CCᵀ (C lower) gives S = (JCJ)(JCJ)ᵀ, and JCJ is upper.
        return SymmetricMatrices.lowerCholesky(reversed(m, n), n).map(c -> reversed(c, n));
    }

    private static double[] transpose(double[] c, int n) {
        double[] r = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                r[j * n + i] = c[i * n + j];
            }
        }
        return r;
    }

    private static double[] reversed(double[] s, int n) {
        double[] out = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                out[i * n + j] = s[(n - 1 - i) * n + (n - 1 - j)];
            }
        }
        return out;
    }
}
