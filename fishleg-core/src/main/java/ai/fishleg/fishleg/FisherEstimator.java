package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.List;

/**
 * One way to estimate F̂V, the product of the Fisher matrix with V = Q(λ)u, during an auxiliary
 * update (one implementation per {@link Estimator}). Vectors are lists with one {@link NDList} per
 * curvature block, in the optimizer's block order.
 */
interface FisherEstimator {

    /**
     * @param pass access to the model for this update
     * @param u the directions u
     * @param v V = Q(λ)u
     * @return F̂V and its inner products with V and u
     */
    FisherEstimate estimate(Pass pass, List<NDList> u, List<NDList> v);

    /**
     * The result of an estimate.
     *
     * @param product F̂V, per block, owned by the pass's scope
     * @param vFv ⟨V, F̂V⟩ (the quadratic term of the auxiliary loss)
     * @param uFv ⟨u, F̂V⟩ (used by the {@code check} diagnostic)
     */
    record FisherEstimate(List<NDList> product, double vFv, double uFv) {}

    /**
     * What an estimator may do with the model during one auxiliary update: take the gradient of
     * the nll on the update's sampled labels, and read (and temporarily move) the managed
     * parameters.
     *
     * @param scope owns every temporary of the update
     * @param samples the auxiliary batch with its sampled labels
     * @param model runs the backward pass without disturbing the model's gradients
     * @param blocks the managed blocks, in order
     */
    record Pass(Scope scope, LabeledBatch samples, ModelPasses model, List<BlockState> blocks) {

        /**
         * The gradient of the nll on the sampled labels with respect to every managed
         * parameter, at the parameters' current values; the model's own gradients are left as
         * they were.
         *
         * @return per block, one array per parameter, owned by the scope
         */
        List<NDList> sampledGradients() {
            return model.sampledGradients(samples, blocks, scope);
        }

        /** @return the live managed parameter arrays, per block */
        List<List<NDArray>> parameters() {
            List<List<NDArray>> out = new ArrayList<>(blocks.size());
            for (BlockState g : blocks) {
                out.add(g.block().getParameterArrays());
            }
            return out;
        }
    }
}
