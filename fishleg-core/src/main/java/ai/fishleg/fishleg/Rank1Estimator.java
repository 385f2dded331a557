package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * {@link Estimator#RANK1}: F̂ = g gᵀ with g the sampled-label minibatch gradient, so F̂V = ⟨g, V⟩ g
 * (docs/ALGORITHM.md §7.2). The operations are those of the reference, so the default path reproduces it number
 * for number.
 */
final class Rank1Estimator implements FisherEstimator {

    @Override
    public FisherEstimate estimate(Pass pass, List<NDList> u, List<NDList> v) {
        List<NDList> g = pass.sampledGradients();
        double[][] dots = Tensors.blockDots(List.of(g, g), List.of(v, u)); // one read-back
        double quad = Tensors.sum(dots[0]); // ⟨g, V⟩
        double align = Tensors.sum(dots[1]); // ⟨g, u⟩
        List<NDList> product = new ArrayList<>(g.size());
        for (NDList block : g) {
            NDList p = new NDList(block.size());
            for (NDArray gi : block) {
                p.add(gi.mul(quad));
            }
            product.add(p);
        }
        return new FisherEstimate(product, quad * quad, quad * align);
    }
}
