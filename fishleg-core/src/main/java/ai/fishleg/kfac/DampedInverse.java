package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.Optional;

/**
 * What K-FAC preconditions one layer's gradient U with: the inverse of its damped Kronecker
 * curvature, in one of the two damping forms ({@link DampingForm}), computed from the factors A
 * (k x k) and G (o x o) of a {@link KroneckerFactoredBlock}.
 */
sealed interface DampedInverse permits DampedInverse.Factored, DampedInverse.EigenBases {

    /** @return every array, for the finiteness check */
    NDList arrays();

    /**
     * @param u a matrix shaped as U
     * @return the damped inverse applied to u
     */
    NDArray apply(NDArray u);

    /**
     * @param outputGradients Ĝ (n x o)
     * @param inputs Â (n x k)
     * @return the damped inverse applied to U = Ĝᵀ Â, without forming U when cheaper
     */
    NDArray applyToRows(NDArray outputGradients, NDArray inputs);

    /**
     * The damped inverse of two factors in a damping form.
     *
     * @param factors A and G
     * @param damping γ
     * @param form the damping form
     * @param scope owns the results
     * @return the inverse, or empty when an eigendecomposition failed (the caller keeps the
     *     current one)
     */
    static Optional<DampedInverse> of(
            NDList factors, double damping, DampingForm form, Scope scope) {
        if (form == DampingForm.EIGEN) {
            return EigenInverse.of(factors.get(0), factors.get(1), damping, scope).map(e -> e);
        }
        return Optional.of(new Factored(factored(factors, damping, scope)));
    }

    /**
     * The inverses of two factors under the factored Tikhonov damping ({@link
     * DampingForm#FACTORED}).
     *
     * @param factors A and G
     * @param damping γ
     * @param scope owns the results
     * @return (A + π√γ I)⁻¹, (G + √γ/π I)⁻¹ and π
     */
    static Inverses factored(NDList factors, double damping, Scope scope) {
        NDArray a = factors.get(0);
        NDArray g = factors.get(1);
        int k = (int) a.getShape().get(0);
        int o = (int) g.getShape().get(0);
        double p = pi(a, g);
        double root = Math.sqrt(damping);
        NDManager m = scope.manager();
        NDArray da = a.add(Tensors.mulConst(m.eye(k, k, 0, a.getDataType()), p * root));
        NDArray dg = g.add(Tensors.mulConst(m.eye(o, o, 0, g.getDataType()), root / p));
        return new Inverses(da.inverse(), dg.inverse(), p);
    }

    /**
     * π for two factors: √((tr A / k) / (tr G / o)), or 1 when a trace is not positive and finite.
     *
     * @param a A
     * @param g G
     * @return π
     */
    static double pi(NDArray a, NDArray g) {
        double[] traces;
        try (Scope s = Scope.open(a.getManager())) {
            NDArray both = NDArrays.stack(new NDList(trace(a, s), trace(g, s)));
            traces = both.toType(DataType.FLOAT64, false).toDoubleArray();
        }
        double ra = traces[0] / a.getShape().get(0);
        double rg = traces[1] / g.getShape().get(0);
        if (!(ra > 0) || !(rg > 0) || Double.isInfinite(ra) || Double.isInfinite(rg)) {
            return 1;
        }
        return Math.sqrt(ra / rg);
    }

    private static NDArray trace(NDArray m, Scope s) {
        int n = (int) m.getShape().get(0);
        return s.manager().eye(n, n, 0, m.getDataType()).muli(m).sum();
    }

    /**
     * The inverses of the damped factors ({@link DampingForm#FACTORED}): (G + √γ/π I)⁻¹ U (A +
     * π√γ I)⁻¹.
     *
     * @param inverses the two inverses and π
     */
    record Factored(Inverses inverses) implements DampedInverse {
        @Override
        public NDList arrays() {
            return new NDList(inverses.input(), inverses.output());
        }

        @Override
        public NDArray apply(NDArray u) {
            return inverses.output().matMul(u).matMul(inverses.input());
        }

        @Override
        public NDArray applyToRows(NDArray outputGradients, NDArray inputs) {
            return inverses.output().matMul(outputGradients.transpose())
                    .matMul(inputs.matMul(inverses.input()));
        }
    }

    /**
     * The exact damped inverse through the factors' eigendecompositions ({@link
     * DampingForm#EIGEN}).
     *
     * @param inputBasis Q_A (k x k)
     * @param outputBasis Q_G (o x o)
     * @param scale 1/(d_G d_Aᵀ + γ) (o x k)
     */
    record EigenBases(NDArray inputBasis, NDArray outputBasis, NDArray scale)
            implements DampedInverse {
        @Override
        public NDList arrays() {
            return new NDList(inputBasis, outputBasis, scale);
        }

        @Override
        public NDArray apply(NDArray u) {
            return back(outputBasis.transpose().matMul(u).matMul(inputBasis));
        }

        @Override
        public NDArray applyToRows(NDArray outputGradients, NDArray inputs) {
            return back(outputGradients.matMul(outputBasis).transpose()
                    .matMul(inputs.matMul(inputBasis)));
        }

        /** Q_G (v ∘ scale) Q_Aᵀ for v in the eigenbasis. */
        private NDArray back(NDArray v) {
            return outputBasis.matMul(v.mul(scale)).matMul(inputBasis.transpose());
        }
    }
}
