package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Optimal Brain Surgeon pruning with a Kronecker-factored inverse Fisher ({@link InverseFisher}):
 * FishLeg's learned Q (FishLeg Surgeon), K-FAC's damped inverse, or the identity (magnitude).
 *
 * <p>One pruning step to sparsity s: the saliency of weight q is ρ_q = w_q² / (2[F⁻¹]_qq) (the
 * loss increase of removing it with the best move of the others); the least salient weights are
 * removed until s of the weights (of each layer, or of all layers: {@link SparsityScope}) are
 * pruned, earlier pruned ones first; the others move by the OBS compensation δw = −F⁻¹e_q w_q /
 * [F⁻¹]_qq ({@link Compensation}); then the pruned weights are set to zero. A gradual pruning
 * ({@link #prune(IntFunction, PruningSchedule, Masks, Refinement)}) takes the steps of a {@link
 * PruningSchedule}, with a fresh inverse (and whatever the caller does, e.g. refining λ or
 * fine-tuning) between them.
 */
public final class Pruner {

    private final SparsityScope scope;
    private final Compensation compensation;

    private Pruner(SparsityScope scope, Compensation compensation) {
        this.scope = scope;
        this.compensation = compensation;
    }

    /** @return a builder with the defaults: per-layer sparsity, independent compensation */
    public static Builder builder() {
        return new Builder();
    }

    /** What happens between the steps of a gradual pruning. */
    @FunctionalInterface
    public interface Refinement {
        /**
         * @param step the step just taken (1..K−1)
         * @param masks the masks after it (applied)
         */
        void after(int step, Masks masks);
    }

    /**
     * What one pruning step did.
     *
     * @param requested the sparsity asked for
     * @param measured the fraction of the layers' weights that are zero-masked afterwards
     * @param removed weights removed in this step
     * @param saliency the sum of the removed weights' saliencies ρ (the predicted loss increase,
     *     interactions ignored)
     */
    public record Step(double requested, double measured, long removed, double saliency) {}

    /**
     * @param sparsity a sparsity
     * @throws IllegalArgumentException if it is outside [0, 1)
     */
    static void checkSparsity(double sparsity) {
        if (!(sparsity >= 0 && sparsity < 1)) {
            throw new IllegalArgumentException("a sparsity must be in [0, 1) (the fraction of weights"
                    + " removed, 0.9 = 90 %), got " + sparsity);
        }
    }

    /**
     * Gradual pruning: the schedule's steps, each with the inverse {@code inverses} gives for it.
     *
     * @param inverses the inverse to use at step t (1..K); it is closed after the step
     * @param schedule the sparsities
     * @param masks the masks to extend (updated in place)
     * @param between called after every step but the last
     * @return the steps
     */
    public List<Step> prune(IntFunction<InverseFisher> inverses, PruningSchedule schedule, Masks masks,
            Refinement between) {
        List<Step> steps = new ArrayList<>();
        for (int t = 1; t <= schedule.steps(); t++) {
            try (InverseFisher inverse = inverses.apply(t)) {
                steps.add(prune(inverse, masks, schedule.sparsityAt(t)));
            }
            if (t < schedule.steps()) {
                between.after(t, masks);
            }
        }
        return steps;
    }

    /**
     * One pruning step: ranks, removes, compensates, applies the masks.
     *
     * @param inverse the inverse Fisher (its layers are the ones pruned)
     * @param masks the current masks of the same layers (updated in place)
     * @param sparsity the sparsity to reach, in [0, 1); already pruned weights stay pruned
     * @return what the step did
     * @throws IllegalArgumentException if the sparsity is out of range or the masks are of other
     *     layers
     */
    public Step prune(InverseFisher inverse, Masks masks, double sparsity) {
        checkSparsity(sparsity);
        List<PrunableLayer> layers = inverse.layers();
        for (PrunableLayer layer : layers) {
            masks.get(layer.name()); // throws for a layer without a mask
        }
        NDManager parent = layers.get(0).weight().getManager();
        try (Scope s = Scope.open(parent)) {
            NDManager m = s.manager();
            int n = layers.size();
            NDArray[] u = new NDArray[n];
            NDArray[] diag = new NDArray[n];
            double[][] saliency = new double[n][];
            for (int i = 0; i < n; i++) {
                PrunableLayer layer = layers.get(i);
                u[i] = layer.matrix(m);
                diag[i] = inverse.diagonal(layer.name(), m);
                NDArray w = weights(u[i], layer);
                NDArray kept = s.use(masks.get(layer.name())).toType(DataType.FLOAT64, false)
                        .reshape(layer.rows(), layer.fan());
                NDArray rho = w.square().div(weights(diag[i], layer).mul(2));
                // already pruned weights come first (-1 < every saliency)
                saliency[i] = rho.mul(kept).add(kept.sub(1)).toDoubleArray();
            }
            boolean[][] pruned = select(saliency, layers, sparsity);
            long removed = 0;
            double total = 0;
            for (int i = 0; i < n; i++) {
                PrunableLayer layer = layers.get(i);
                double[] keep = new double[saliency[i].length];
                for (int q = 0; q < keep.length; q++) {
                    keep[q] = pruned[i][q] ? 0 : 1;
                    if (pruned[i][q] && saliency[i][q] >= 0) {
                        removed++;
                        total += saliency[i][q];
                    }
                }
                NDArray keepMatrix = m.create(keep, new Shape(layer.rows(), layer.fan()));
                NDArray compensated = compensate(inverse, layer, u[i], diag[i], keepMatrix);
                NDArray w = weights(compensated, layer).mul(keepMatrix);
                NDArray out = layer.hasBias()
                        ? w.concat(compensated.get(":, " + layer.fan() + ":"), 1) : w;
                layer.assign(out);
                masks.set(layer.name(), keepMatrix.reshape(layer.weight().getShape())
                        .toType(layer.weight().getDataType(), false));
            }
            return new Step(sparsity, masks.sparsity(), removed, total);
        }
    }

    /** The weight columns of a matrix shaped as U. */
    private static NDArray weights(NDArray u, PrunableLayer layer) {
        return layer.hasBias() ? u.get(":, :" + layer.fan()) : u;
    }

    /** A weight-shaped (out x fan) matrix widened to U's columns with a zero bias column. */
    private static NDArray widen(NDArray w, PrunableLayer layer) {
        if (!layer.hasBias()) {
            return w;
        }
        return w.concat(w.getManager().zeros(new Shape(layer.rows(), 1), DataType.FLOAT64), 1);
    }

    /** U + δU for the pruned entries (keep = 0), before the mask. */
    private NDArray compensate(InverseFisher inverse, PrunableLayer layer, NDArray u, NDArray diag,
            NDArray keep) {
        NDArray w = weights(u, layer);
        NDArray gone = keep.neg().add(1);
        NDArray x;
        switch (compensation) {
            case NONE:
                return u;
            case INDEPENDENT:
                x = w.mul(gone).div(weights(diag, layer));
                break;
            case ROW_EXACT:
                x = rowExact(inverse, layer, w, gone);
                break;
            default:
                throw new IllegalStateException(compensation.name());
        }
        return u.sub(inverse.apply(layer.name(), widen(x, layer)));
    }

    /** X with X[i, J_i] = ([F⁻¹]_{J_i J_i})⁻¹ w_{J_i} for the pruned entries J_i of each row i. */
    private static NDArray rowExact(InverseFisher inverse, PrunableLayer layer, NDArray w, NDArray gone) {
        KroneckerInverse block = inverse.block(layer.name());
        NDManager m = w.getManager();
        double[] weights = w.toDoubleArray();
        double[] mask = gone.toDoubleArray();
        int fan = layer.fan();
        double[] x = new double[weights.length];
        for (int row = 0; row < layer.rows(); row++) {
            int count = 0;
            long[] columns = new long[fan];
            for (int j = 0; j < fan; j++) {
                if (mask[row * fan + j] > 0) {
                    columns[count++] = j;
                }
            }
            if (count == 0) {
                continue;
            }
            double[] wj = new double[count];
            for (int c = 0; c < count; c++) {
                wj[c] = weights[row * fan + (int) columns[c]];
            }
            try (NDManager rowScope = m.newSubManager()) {
                NDArray picked = rowScope.create(Arrays.copyOf(columns, count));
                NDArray b;
                try (Scope s = Scope.open(rowScope)) {
                    InverseFisher.use(s, block);
                    b = Scope.keep(block.rowBlock(row, picked), rowScope);
                }
                double[] solved = b.inverse().matMul(rowScope.create(wj, new Shape(count, 1)))
                        .toDoubleArray();
                for (int c = 0; c < count; c++) {
                    x[row * fan + (int) columns[c]] = solved[c];
                }
            }
        }
        return m.create(x, new Shape(layer.rows(), fan));
    }

    /** Marks, per layer, the entries to prune: the least salient, to reach the sparsity. */
    private boolean[][] select(double[][] saliency, List<PrunableLayer> layers, double sparsity) {
        boolean[][] pruned = new boolean[saliency.length][];
        for (int i = 0; i < saliency.length; i++) {
            pruned[i] = new boolean[saliency[i].length];
        }
        if (scope == SparsityScope.PER_LAYER) {
            for (int i = 0; i < saliency.length; i++) {
                markLowest(new double[][] {saliency[i]}, new boolean[][] {pruned[i]}, sparsity);
            }
        } else {
            markLowest(saliency, pruned, sparsity);
        }
        return pruned;
    }

    /** Marks the round(s · n) lowest entries of the arrays taken together (ties in order). */
    private static void markLowest(double[][] values, boolean[][] marks, double sparsity) {
        int n = 0;
        for (double[] v : values) {
            n += v.length;
        }
        int count = (int) Math.round(sparsity * n);
        if (count == 0) {
            return;
        }
        double[] all = new double[n];
        int at = 0;
        for (double[] v : values) {
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        Arrays.sort(all);
        double threshold = all[count - 1];
        int below = 0;
        for (double[] v : values) {
            for (double x : v) {
                if (x < threshold) {
                    below++;
                }
            }
        }
        int ties = count - below;
        for (int a = 0; a < values.length; a++) {
            for (int q = 0; q < values[a].length; q++) {
                double x = values[a][q];
                if (x < threshold || (x == threshold && ties-- > 0)) {
                    marks[a][q] = true;
                }
            }
        }
    }

    /** @return the scope of the sparsity */
    public SparsityScope getScope() {
        return scope;
    }

    /** @return the compensation */
    public Compensation getCompensation() {
        return compensation;
    }

    /** Settings of a {@link Pruner}; every default is here. */
    public static final class Builder {
        private SparsityScope scope = SparsityScope.PER_LAYER;
        private Compensation compensation = Compensation.INDEPENDENT;

        private Builder() {}

        /**
         * @param scope per layer (default) or global
         * @return this
         */
        public Builder scope(SparsityScope scope) {
            this.scope = java.util.Objects.requireNonNull(scope, "scope");
            return this;
        }

        /**
         * @param compensation independent (default), row-exact or none
         * @return this
         */
        public Builder compensation(Compensation compensation) {
            this.compensation = java.util.Objects.requireNonNull(compensation, "compensation");
            return this;
        }

        /** @return the pruner */
        public Pruner build() {
            return new Pruner(scope, compensation);
        }
    }
}
