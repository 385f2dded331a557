package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fishleg.util.Tensors;
import java.util.Collections;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The auxiliary parameters λ of one curvature block together with the products cached from them
 * (for a Kronecker block: M = RᵀR, N = LLᵀ, the padded L and A). Every change of λ goes through one
 * of the write methods here ({@link #assign}, {@link #scale}, {@link #subtract}), and each of them
 * drops the cache, so that no writer can leave stale products behind: warm-up, the auxiliary
 * optimizer's step and a checkpoint's restore all write λ this way.
 *
 * <p>The arrays returned by {@link #get} and {@link #view} are the live tensors, for reading only
 * (the products, checkpoints, diagnostics); λ is written through the write methods alone.
 */
public final class AuxState {

    private final NDManager manager;
    private final Map<String, NDArray> tensors = new LinkedHashMap<>();
    private final Map<String, NDArray> view = Collections.unmodifiableMap(tensors);
    private final Map<String, NDArray> masks = new LinkedHashMap<>();
    private final Map<String, NDArray> masksView = Collections.unmodifiableMap(masks);
    private final Map<CachedProduct, NDArray> cache = new EnumMap<>(CachedProduct.class);

    /** @param manager owns λ, the masks and the cached products (the block's manager) */
    AuxState(NDManager manager) {
        this.manager = manager;
    }

    /**
     * Registers a tensor of λ (done by blocks at construction).
     *
     * @param name its name, unique in the block
     * @param value the tensor; the state's manager takes ownership
     * @return the tensor
     */
    NDArray add(String name, NDArray value) {
        value.attach(manager);
        value.setName(name);
        tensors.put(name, value);
        return value;
    }

    /**
     * Registers the gradient mask of a tensor (done by blocks at construction).
     *
     * @param name a registered tensor
     * @param mask 0/1 values shaped like the tensor; the state's manager takes ownership
     */
    void addMask(String name, NDArray mask) {
        mask.attach(manager);
        masks.put(name, mask);
    }

    /**
     * @param name a registered name
     * @return the live tensor (read it; write through this state)
     */
    public NDArray get(String name) {
        return tensors.get(name);
    }

    /** @return the tensors by name, in registration order (unmodifiable; live arrays) */
    public Map<String, NDArray> view() {
        return view;
    }

    /** @return the gradient masks by tensor name (unmodifiable); absent names are not masked */
    public Map<String, NDArray> masks() {
        return masksView;
    }

    /**
     * Copies values into a tensor.
     *
     * @param name a registered name
     * @param value the new values, shaped like the tensor (any manager; not kept)
     */
    public void assign(String name, NDArray value) {
        Tensors.assign(require(name), value);
        changed();
    }

    /**
     * Multiplies a tensor by a constant, in place.
     *
     * @param name a registered name
     * @param factor the factor
     */
    public void scale(String name, double factor) {
        require(name).muli(factor);
        changed();
    }

    /**
     * λ ← λ − delta for one tensor, in place (the auxiliary optimizer's step).
     *
     * @param name a registered name
     * @param delta the step, shaped like the tensor (any manager; not kept)
     */
    public void subtract(String name, NDArray delta) {
        require(name).subi(delta);
        changed();
    }

    /**
     * Masks a λ-gradient in place with the tensor's gradient mask, if it has one.
     *
     * @param name a registered name
     * @param gradient the caller's own temporary gradient of that tensor
     * @return the same array, masked
     */
    public NDArray mask(String name, NDArray gradient) {
        NDArray mask = masks.get(name);
        return mask == null ? gradient : gradient.muli(mask);
    }

    /**
     * A product computed from λ, kept until λ changes.
     *
     * @param key names the product within the block
     * @param compute computes it (the state's manager takes ownership of the result)
     * @return the cached product
     */
    NDArray cached(CachedProduct key, Supplier<NDArray> compute) {
        NDArray value = cache.get(key);
        if (value == null) {
            value = compute.get();
            value.attach(manager);
            cache.put(key, value);
        }
        return value;
    }

    /** Drops every cached product: λ has changed (called by each write method). */
    private void changed() {
        if (cache.isEmpty()) {
            return;
        }
        Set<NDArray> closed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (NDArray value : cache.values()) {
            if (closed.add(value)) {
                value.close();
            }
        }
        cache.clear();
    }

    private NDArray require(String name) {
        NDArray t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(
                    "no auxiliary tensor '" + name + "'; this block has " + tensors.keySet());
        }
        return t;
    }
}
