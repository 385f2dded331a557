package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.linalg.SymmetricMatrices;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * K-FAC's exact damping ({@link DampingForm#EIGEN}): the eigendecompositions A = Q_A D_A Q_Aᵀ and
 * G = Q_G D_G Q_Gᵀ (in float64, by EJML; G on a second thread while A is decomposed), eigenvalues
 * at most {@link #EIGENVALUE_FLOOR} set to 0 as in the PyTorch K-FAC, and the o x k scale
 * 1/(d_G d_Aᵀ + γ) with which (A ⊗ G + γI)⁻¹ vec(U) = vec(Q_G[(Q_Gᵀ U Q_A) ∘ scale]Q_Aᵀ).
 */
final class EigenInverse {

    /** Eigenvalues at most this are taken as 0 (the PyTorch K-FAC's eps). */
    static final double EIGENVALUE_FLOOR = 1e-10;

    private EigenInverse() {}

    /**
     * @param a A (k x k)
     * @param g G (o x o)
     * @param damping γ
     * @param scope owns the results
     * @return Q_A, Q_G and the scale in A's element type, or empty when a decomposition failed
     *     (not converged or not finite)
     */
    static Optional<DampedInverse.EigenBases> of(
            NDArray a, NDArray g, double damping, Scope scope) {
        int k = (int) a.getShape().get(0);
        int o = (int) g.getShape().get(0);
        double[] av = doubles(a);
        double[] gv = doubles(g);
        CompletableFuture<Optional<SymmetricMatrices.Eigen>> gEigen =
                CompletableFuture.supplyAsync(() -> SymmetricMatrices.eigen(gv, o));
        Optional<SymmetricMatrices.Eigen> aEigen = SymmetricMatrices.eigen(av, k);
        Optional<SymmetricMatrices.Eigen> gDone = gEigen.join();
        if (aEigen.isEmpty() || gDone.isEmpty()) {
            return Optional.empty();
        }
        double[] da = floored(aEigen.get().values());
        double[] dg = floored(gDone.get().values());
        double[] scale = new double[o * k];
        for (int i = 0; i < o; i++) {
            for (int j = 0; j < k; j++) {
                scale[i * k + j] = 1 / (dg[i] * da[j] + damping);
            }
        }
        DataType type = a.getDataType();
        return Optional.of(new DampedInverse.EigenBases(
                scope.own(Tensors.create(scope.manager(), aEigen.get().vectors(), new Shape(k, k),
                        type)),
                scope.own(Tensors.create(scope.manager(), gDone.get().vectors(), new Shape(o, o),
                        type)),
                scope.own(Tensors.create(scope.manager(), scale, new Shape(o, k), type))));
    }

    private static double[] floored(double[] values) {
        double[] out = values.clone();
        for (int i = 0; i < out.length; i++) {
            if (!(out[i] > EIGENVALUE_FLOOR)) {
                out[i] = 0;
            }
        }
        return out;
    }

    private static double[] doubles(NDArray m) {
        try (NDArray d = m.toType(DataType.FLOAT64, true)) {
            return d.toDoubleArray();
        }
    }
}
