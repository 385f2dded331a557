package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link Estimator#ANTITHETIC}: F̂V = ‖V‖·(g₊ − g₋)/(2ε) with g± the sampled-label gradients at
 * θ ± ε·V/‖V‖ (docs/ALGORITHM.md §7). The parameters are restored exactly (copied back, not shifted back)
 * after each perturbed pass.
 */
final class AntitheticEstimator implements FisherEstimator {

    private final double eps;

    /** @param eps length of the parameter perturbation, > 0 */
    AntitheticEstimator(double eps) {
        this.eps = eps;
    }

    @Override
    public FisherEstimate estimate(Pass pass, List<NDList> u, List<NDList> v) {
        Scope scope = pass.scope();
        double vv = Tensors.sum(Tensors.blockDots(List.of(v), List.of(v))[0]);
        double norm = Math.sqrt(vv);
        List<NDList> product = new ArrayList<>(v.size());
        if (norm == 0) { // V = 0: nothing to differentiate along, F̂V = 0
            for (NDList block : v) {
                NDList zeros = new NDList(block.size());
                for (NDArray a : block) {
                    zeros.add(scope.own(a.zerosLike()));
                }
                product.add(zeros);
            }
            return new FisherEstimate(product, 0, 0);
        }
        List<List<NDArray>> params = pass.parameters();
        List<List<NDArray>> saved = new ArrayList<>(params.size());
        for (List<NDArray> block : params) {
            List<NDArray> copies = new ArrayList<>(block.size());
            for (NDArray p : block) {
                copies.add(scope.own(p.duplicate()));
            }
            saved.add(copies);
        }
        double step = eps / norm;
        List<NDList> plus = gradientAt(pass, params, saved, v, step);
        List<NDList> minus = gradientAt(pass, params, saved, v, -step);
        for (int b = 0; b < v.size(); b++) {
            NDList p = new NDList(v.get(b).size());
            for (int i = 0; i < v.get(b).size(); i++) {
                p.add(plus.get(b).get(i).sub(minus.get(b).get(i)).muli(1 / (2 * step)));
            }
            product.add(p);
        }
        double[][] dots = Tensors.blockDots(List.of(v, u), List.of(product, product));
        double vFv = Tensors.sum(dots[0]);
        double uFv = Tensors.sum(dots[1]);
        return new FisherEstimate(product, vFv, uFv);
    }

    /** The sampled-label gradient at θ + t·V, with θ restored from {@code saved} afterwards. */
    private static List<NDList> gradientAt(
            Pass pass, List<List<NDArray>> params, List<List<NDArray>> saved, List<NDList> v,
            double t) {
        try {
            for (int b = 0; b < params.size(); b++) {
                for (int i = 0; i < params.get(b).size(); i++) {
                    try (NDArray shift = v.get(b).get(i).mul(t)) {
                        params.get(b).get(i).addi(shift);
                    }
                }
            }
            return pass.sampledGradients();
        } finally {
            for (int b = 0; b < params.size(); b++) {
                for (int i = 0; i < params.get(b).size(); i++) {
                    Tensors.assign(params.get(b).get(i), saved.get(b).get(i));
                }
            }
        }
    }
}
