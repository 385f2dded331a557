package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.List;

/**
 * Sets the initial Q. Without data (or with {@code warmup = 0}) every layer block is scaled so
 * that Q0 = s·I (each call multiplies, as in the reference; the likelihood block was scaled when
 * it was created). With data and a loss, the squared gradients of {@code ceil(warmup / batch
 * size)} batches are averaged into g², and every layer block starts from diag(Q0) = s²/(g² + γ).
 * The model's gradients and running statistics are left as they were.
 */
final class Warmup {

    private final Hyperparameters hp;
    private final List<BlockState> blocks;
    private final ModelPasses model;
    private final NDManager manager;

    /**
     * @param hp the settings (warmup, damping)
     * @param blocks the managed blocks
     * @param model the model's passes
     * @param manager the optimizer's manager
     */
    Warmup(Hyperparameters hp, List<BlockState> blocks, ModelPasses model, NDManager manager) {
        this.hp = hp;
        this.blocks = blocks;
        this.model = model;
        this.manager = manager;
    }

    /**
     * @param data warm-up batches, or null
     * @param loss the loss whose gradients are squared, or null
     * @param scale the scale s
     */
    void run(BatchSource data, NllFunction loss, double scale) {
        if (data == null || loss == null || hp.warmup() == 0) {
            for (BlockState g : blocks) {
                if (g.owner() == BlockState.Owner.LAYER) { // the likelihood block was scaled at creation
                    g.block().warmup(null, scale);
                }
            }
            return;
        }
        try (Scope scope = Scope.open(manager);
                ModelPasses.Isolation isolated = model.isolate(scope, true)) {
            List<NDList> sums = new ArrayList<>();
            for (BlockState g : blocks) {
                NDList s = new NDList();
                for (NDArray p : g.block().getParameterArrays()) {
                    s.add(scope.own(p.zerosLike()));
                }
                sums.add(s);
            }
            int batches = accumulateSquaredGradients(data, loss, sums, scope);
            for (int gi = 0; gi < blocks.size(); gi++) {
                BlockState g = blocks.get(gi);
                if (g.owner() == BlockState.Owner.LIKELIHOOD) {
                    continue; // likelihood block: Q0 = s·I
                }
                NDList d = new NDList();
                for (NDArray sum : sums.get(gi)) {
                    // d = s / sqrt(mean g² + γ), so that diag(Q0) = d² = s²/(g² + γ)
                    NDArray root = sum.div(batches).add(hp.damping()).sqrt();
                    d.add(NDArrays.div(scale, root));
                }
                g.block().warmup(d, scale);
            }
        }
    }

    /** Adds g² of batches until {@code warmup} examples are seen; returns the batch count. */
    private int accumulateSquaredGradients(
            BatchSource data, NllFunction loss, List<NDList> sums, Scope scope) {
        long consumed = 0;
        int batches = 0;
        while (consumed < hp.warmup()) {
            try (Scope batchScope = Scope.open(scope.manager())) {
                LabeledBatch batch = data.nextNonEmpty(batchScope.manager(), "warm-up");
                model.backward(loss, batch, batchScope);
                for (int gi = 0; gi < blocks.size(); gi++) {
                    List<NDArray> params = blocks.get(gi).block().getParameterArrays();
                    for (int i = 0; i < params.size(); i++) {
                        NDArray g = ModelPasses.gradientOf(params.get(i), batchScope);
                        sums.get(gi).get(i).addi(g.square());
                    }
                }
                consumed += batch.size();
                batches++;
            }
        }
        return batches;
    }
}
