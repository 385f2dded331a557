package ai.fishleg.linalg;

import java.util.Optional;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.CholeskyDecomposition_F64;
import org.ejml.interfaces.decomposition.EigenDecomposition_F64;

/**
 * Dense symmetric linear algebra on row-major {@code double[]} matrices, by EJML (the
 * factorisations K-FAC's damping and FishLeg's Kronecker start need). Nothing here touches a
 * tensor engine: callers read their factors into doubles, factorise, and write the results back.
 */
public final class SymmetricMatrices {

    private SymmetricMatrices() {}

    /**
     * A symmetric eigendecomposition S = Q diag(values) Qᵀ.
     *
     * @param values the n eigenvalues, ascending
     * @param vectors Q, row-major n x n, eigenvector i in column i
     */
    public record Eigen(double[] values, double[] vectors) {}

    /**
     * @param s symmetric, row-major n x n (not changed)
     * @param n its size
     * @return its eigendecomposition, eigenvalues ascending; empty if EJML's symmetric QR
     *     algorithm did not converge or a value is not finite
     */
    public static Optional<Eigen> eigen(double[] s, int n) {
        check(s, n);
        DMatrixRMaj m = DMatrixRMaj.wrap(n, n, s.clone());
        EigenDecomposition_F64<DMatrixRMaj> eig = DecompositionFactory_DDRM.eig(n, true, true);
        if (!eig.decompose(m)) {
            return Optional.empty();
        }
        Integer[] order = new Integer[n];
        double[] raw = new double[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
            raw[i] = eig.getEigenvalue(i).getReal();
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(raw[x], raw[y]));
        double[] values = new double[n];
        double[] vectors = new double[n * n];
        for (int j = 0; j < n; j++) {
            values[j] = raw[order[j]];
            DMatrixRMaj v = eig.getEigenVector(order[j]);
            if (v == null) {
                return Optional.empty();
            }
            for (int i = 0; i < n; i++) {
                vectors[i * n + j] = v.get(i, 0);
            }
        }
        for (double x : values) {
            if (!Double.isFinite(x)) {
                return Optional.empty();
            }
        }
        for (double x : vectors) {
            if (!Double.isFinite(x)) {
                return Optional.empty();
            }
        }
        return Optional.of(new Eigen(values, vectors));
    }

    /**
     * @param s symmetric, row-major n x n (not changed)
     * @param n its size
     * @return the lower-triangular C (row-major) with CCᵀ = S, or empty if S is not (numerically)
     *     positive definite
     */
    public static Optional<double[]> lowerCholesky(double[] s, int n) {
        check(s, n);
        DMatrixRMaj m = DMatrixRMaj.wrap(n, n, s.clone());
        CholeskyDecomposition_F64<DMatrixRMaj> chol = DecompositionFactory_DDRM.chol(n, true);
        if (!chol.decompose(m)) {
            return Optional.empty();
        }
        double[] c = chol.getT(null).getData();
        for (int i = 0; i < n; i++) {
            if (!(c[i * n + i] > 0) || Double.isInfinite(c[i * n + i])) {
                return Optional.empty();
            }
            for (int j = i + 1; j < n; j++) {
                c[i * n + j] = 0; // EJML may leave the upper part unset
            }
            for (int j = 0; j < i; j++) {
                if (!Double.isFinite(c[i * n + j])) {
                    return Optional.empty();
                }
            }
        }
        return Optional.of(c);
    }

    private static void check(double[] s, int n) {
        if (n < 1 || s.length != (long) n * n) {
            throw new IllegalArgumentException("expected a row-major " + n + " x " + n
                    + " matrix (" + ((long) n * n) + " values), got " + s.length + " values");
        }
    }
}
