package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Which weights of each pruned layer are kept: one 0/1 array per layer, shaped as its weight
 * (1 kept, 0 pruned). {@link #apply} sets the pruned weights to zero; {@link MaskedOptimizer} does it
 * after every step, so that fine-tuning keeps them there.
 */
public final class Masks implements AutoCloseable {

    private final NDManager manager;
    private final List<PrunableLayer> layers;
    private final Map<String, NDArray> masks;

    Masks(NDManager manager, List<PrunableLayer> layers, Map<String, NDArray> masks) {
        this.manager = manager;
        this.layers = List.copyOf(layers);
        this.masks = masks;
    }

    /**
     * Nothing pruned yet.
     *
     * @param layers the layers
     * @param parent manager under which the masks live
     * @return all-ones masks
     */
    public static Masks dense(List<PrunableLayer> layers, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> masks = new LinkedHashMap<>();
        for (PrunableLayer layer : layers) {
            masks.put(layer.name(), manager.ones(layer.weight().getShape(), layer.weight().getDataType()));
        }
        return new Masks(manager, layers, masks);
    }

    /**
     * The masks of weights that are zero now: how a pruned model read back from a checkpoint gets
     * its masks again.
     *
     * @param layers the layers
     * @param parent manager under which the masks live
     * @return 1 where a weight is not zero, 0 where it is
     */
    public static Masks ofNonZero(List<PrunableLayer> layers, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Map<String, NDArray> masks = new LinkedHashMap<>();
        for (PrunableLayer layer : layers) {
            try (Scope s = Scope.open(manager)) {
                NDArray w = s.use(layer.weight());
                masks.put(layer.name(), Scope.keep(w.neq(0).toType(w.getDataType(), false), manager));
            }
        }
        return new Masks(manager, layers, masks);
    }

    /** @return the layers, in order */
    public List<PrunableLayer> layers() {
        return layers;
    }

    /**
     * @param layer a layer's name
     * @return its mask (live; 1 kept, 0 pruned)
     * @throws IllegalArgumentException if there is no such layer
     */
    public NDArray get(String layer) {
        NDArray m = masks.get(layer);
        if (m == null) {
            throw new IllegalArgumentException(
                    "no mask for layer '" + layer + "'; masked layers: " + masks.keySet());
        }
        return m;
    }

    /** Sets every pruned weight to zero (in place). */
    public void apply() {
        for (PrunableLayer layer : layers) {
            try (Scope s = Scope.open(manager)) {
                NDArray w = s.use(layer.weight());
                w.muli(s.use(masks.get(layer.name())));
            }
        }
    }

    /** @return the fraction of the layers' weights that are pruned */
    public double sparsity() {
        long pruned = 0;
        long total = 0;
        for (PrunableLayer layer : layers) {
            pruned += pruned(layer.name());
            total += layer.weights();
        }
        return (double) pruned / total;
    }

    /**
     * @param layer a layer's name
     * @return the fraction of its weights that are pruned
     */
    public double sparsity(String layer) {
        return (double) pruned(layer) / get(layer).size();
    }

    private long pruned(String layer) {
        NDArray m = get(layer);
        try (Scope s = Scope.open(manager)) {
            return m.size() - Math.round(Tensors.scalar(s.use(m).toType(DataType.FLOAT64, false).sum()));
        }
    }

    /**
     * @param layer a layer's name
     * @param mask the new mask (copied)
     */
    void set(String layer, NDArray mask) {
        Tensors.assign(get(layer), mask);
    }

    @Override
    public void close() {
        manager.close();
    }
}
