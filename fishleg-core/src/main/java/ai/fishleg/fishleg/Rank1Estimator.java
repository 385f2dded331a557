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
        double quad = 0; // ⟨g, V⟩
        double align = 0; // ⟨g, u⟩
        for (int b = 0; b < g.size(); b++) {
            quad += Tensors.dot(g.get(b), v.get(b));
            align += Tensors.dot(g.get(b), u.get(b));
        }
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
