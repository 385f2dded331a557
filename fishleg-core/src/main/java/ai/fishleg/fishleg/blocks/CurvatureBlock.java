package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * One diagonal block of FishLeg's model Q(λ) of the inverse damped Fisher matrix: the block that
 * belongs to one layer (or to a likelihood's learnable parameters). This is the reference's {@code
 * FishModule}; as in kfac-jax there is one class per layer type.
 *
 * <p>A block does not replace the user's DJL layer (DJL blocks cannot be swapped in place); it is
 * attached to the layer's parameters and owns the auxiliary tensors λ that define its Q. Vectors
 * are passed as {@link NDList}s holding one array per parameter, shaped like the parameters, in
 * the block's {@linkplain #getOrder() order} (for a linear layer: weight, then bias).
 *
 * <p>Arrays returned by {@link #qv}, {@link #diagQ} and the {@link Tape} are attached to the
 * manager of the argument (or, for {@code diagQ}, the block's manager) and are the caller's to
 * close.
 */
public abstract class CurvatureBlock implements AutoCloseable {

    private final String name;
    private final List<String> order;
    private final List<Supplier<NDArray>> parameters;
    private final Block layer;
    /** Owns the auxiliary tensors of this block. */
    protected final NDManager manager;
    /** Element type of the parameters and of λ. */
    protected final DataType dataType;

    private final AuxState state;

    /**
     * @param name the dotted name of the layer ({@code ""} for the root, {@code "likelihood"})
     * @param order parameter names in block order
     * @param parameters suppliers of the live parameter arrays in block order (read on every use,
     *     so that a model whose parameters are reloaded stays attached), or empty for a detached
     *     block
     * @param layer the DJL block this curvature block belongs to, or null
     * @param parent manager under which the block's own manager is created
     * @param dataType element type of λ (the parameters' type)
     */
    protected CurvatureBlock(
            String name,
            List<String> order,
            List<Supplier<NDArray>> parameters,
            Block layer,
            NDManager parent,
            DataType dataType) {
        this.name = Objects.requireNonNull(name, "name");
        this.order = List.copyOf(order);
        this.parameters = List.copyOf(parameters);
        if (!this.parameters.isEmpty() && this.parameters.size() != this.order.size()) {
            throw new IllegalArgumentException(
                    "block " + name + " has " + order.size() + " parameter names but "
                            + parameters.size() + " arrays");
        }
        this.layer = layer;
        this.manager = parent.newSubManager();
        this.dataType = dataType;
        this.state = new AuxState(manager);
    }

    /** @return the dotted name of the layer this block belongs to */
    public String getName() {
        return name;
    }

    /** @return the parameter names, in the order used by every vector of this block */
    public List<String> getOrder() {
        return order;
    }

    /** @return the live parameter arrays (empty for a block not attached to a model) */
    public List<NDArray> getParameterArrays() {
        List<NDArray> out = new java.util.ArrayList<>(parameters.size());
        for (Supplier<NDArray> p : parameters) {
            out.add(p.get());
        }
        return out;
    }

    /** @return the DJL layer this block belongs to, or null (likelihood or detached block) */
    public Block getLayer() {
        return layer;
    }

    /** @return the element type of the auxiliary tensors */
    public DataType getDataType() {
        return dataType;
    }

    /**
     * λ and the products cached from it: every write of λ goes through this state, which drops
     * the cache.
     *
     * @return the block's state
     */
    public AuxState state() {
        return state;
    }

    /**
     * The auxiliary parameters λ of this block, by name, in a fixed order: the live arrays, to
     * read. Write them through {@link #state()}.
     *
     * @return an unmodifiable view
     */
    public Map<String, NDArray> getAuxParameters() {
        return state.view();
    }

    /**
     * Gradient masks applied to the λ-gradients before the auxiliary optimizer step (for example
     * the upper-triangular masks that keep FishLinear's L and R triangular).
     *
     * @return mask by aux name; names absent here are not masked
     */
    public final Map<String, NDArray> getGradientMasks() {
        return state.masks();
    }

    /**
     * The λ-gradient the auxiliary optimizer applies to one tensor: the gradient masked with the
     * tensor's {@linkplain #getGradientMasks() mask}, if it has one.
     *
     * @param auxName a registered name
     * @param gradient the caller's own temporary gradient of that tensor (masked in place)
     * @return the same array, masked
     */
    public final NDArray maskGradient(String auxName, NDArray gradient) {
        return state.mask(auxName, gradient);
    }

    /** @return the number of auxiliary scalars (the size of λ for this block) */
    public long auxSize() {
        long n = 0;
        for (NDArray a : state.view().values()) {
            n += a.size();
        }
        return n;
    }

    /** @return the number of parameters (the side of this block of Q) */
    public long parameterSize() {
        long n = 0;
        for (Supplier<NDArray> p : parameters) {
            n += p.get().size();
        }
        return n;
    }

    /**
     * Registers an auxiliary tensor (done by subclasses at construction).
     *
     * @param auxName its name, unique in the block
     * @param value the tensor; this block's manager takes ownership
     * @return the tensor
     */
    protected final NDArray addAux(String auxName, NDArray value) {
        return state.add(auxName, value);
    }

    /**
     * Registers the gradient mask of an auxiliary tensor (done by subclasses at construction).
     *
     * @param auxName a registered name
     * @param mask 0/1 values shaped like the tensor; this block's manager takes ownership
     */
    protected final void addGradientMask(String auxName, NDArray mask) {
        state.addMask(auxName, mask);
    }

    /**
     * @param auxName a registered name
     * @return the live tensor
     */
    protected final NDArray aux(String auxName) {
        return state.get(auxName);
    }

    /**
     * Computes Q(λ) v without recording anything for differentiation.
     *
     * @param v one array per parameter, in block order
     * @return Q(λ) v, shaped like v
     */
    public abstract NDList qv(NDList v);

    /**
     * Computes V = Q(λ) u and keeps what is needed to pull a cotangent D back to λ (the
     * vector-Jacobian product of λ -> Q(λ) u).
     *
     * @param u one array per parameter, in block order
     * @return the tape; close it when done
     */
    public abstract Tape qvTape(NDList u);

    /**
     * The diagonal of Q(λ), shaped like the parameters (a diagnostic; not used by the optimizer).
     *
     * @return one array per parameter, in block order
     */
    public abstract NDList diagQ();

    /**
     * Sets the initial Q (docs/ALGORITHM.md §6).
     *
     * @param v null for Q0 = s·I; otherwise per-parameter values d with diag(Q0) = d²
     * @param initScale the scale s
     */
    public abstract void warmup(NDList v, double initScale);

    /**
     * Whether an aux tensor is learned. Frozen tensors get no gradient from {@link Tape#vjp}.
     *
     * @param auxName a registered name
     * @return true if the auxiliary optimizer updates it
     */
    public boolean isTrainable(String auxName) {
        return true;
    }

    /**
     * @param auxName a registered name
     * @return how the tensor enters Q, for the multiplicative auxiliary step (by default
     *     {@link FactorForm#ENTRYWISE}: Q scales entry by entry with it)
     */
    public FactorForm factorForm(String auxName) {
        return FactorForm.ENTRYWISE;
    }

    /**
     * A tape for blocks whose vector-Jacobian product needs nothing but u and λ.
     *
     * @param v V = Q(λ)u, closed with the tape
     * @param vjp the vector-Jacobian product (see {@link Tape#vjp})
     * @return the tape
     */
    protected static Tape tape(NDList v, Function<NDList, Map<String, NDArray>> vjp) {
        return tape(v, vjp, v::close);
    }

    /**
     * A tape from its parts.
     *
     * @param v V = Q(λ)u
     * @param vjp the vector-Jacobian product (see {@link Tape#vjp})
     * @param close frees what the tape holds (V included)
     * @return the tape
     */
    protected static Tape tape(
            NDList v, Function<NDList, Map<String, NDArray>> vjp, Runnable close) {
        return new Tape() {
            @Override
            public NDList v() {
                return v;
            }

            @Override
            public Map<String, NDArray> vjp(NDList cotangent) {
                return vjp.apply(cotangent);
            }

            @Override
            public void close() {
                close.run();
            }
        };
    }

    /**
     * The FLOPs of one natural gradient Q(λ)g on this block: its matrix products only (elementwise
     * work, such as the diagonal blocks do, counts zero).
     *
     * @param gradientRows n, the rows of the gradient's factors (the batch; see {@link
     *     FactoredBlock}), which decide the form of the product where there is a choice
     * @return executed and necessary counts
     */
    public FlopCount naturalGradientFlops(long gradientRows) {
        return FlopCount.ZERO;
    }

    /**
     * The FLOPs of the matrix products of one auxiliary update on this block: the tape's V = Q(λ)u,
     * its vector-Jacobian product, and the recomputation of the cached products after λ changed.
     *
     * @param gradientRows n, the rows of u's factors when u is a stored gradient
     * @return executed and necessary counts
     */
    public FlopCount auxUpdateFlops(long gradientRows) {
        return FlopCount.ZERO;
    }

    /**
     * @param batchRows rows of a batch
     * @return the FLOPs of the matrix products of one forward and one backward pass of the layer
     *     behind this block (zero for layers whose passes are elementwise)
     */
    public double layerFlops(long batchRows) {
        return 0;
    }

    /**
     * @return the input features of a fully connected layer's weight, or 0 when this block's layer
     *     is not one: FishLeg's re-initialisation options apply to fully connected layers only, as
     *     in the reference
     */
    public int linearFanIn() {
        return 0;
    }

    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + (name.isEmpty() ? "<root>" : name) + ")";
    }

    /** V = Q(λ) u together with its vector-Jacobian product with respect to λ. */
    public interface Tape extends AutoCloseable {

        /** @return V = Q(λ) u, one array per parameter */
        NDList v();

        /**
         * Pulls a cotangent back to λ: returns ∂⟨D, Q(λ) u⟩/∂λ for every trainable aux tensor.
         * Where the block has a {@linkplain #getGradientMasks() gradient mask}, only the entries
         * the mask keeps are meant: the others may hold zeros instead of the gradient (a block
         * may skip computing them).
         *
         * @param cotangent D, shaped like u
         * @return gradient by aux name (frozen tensors are absent)
         */
        Map<String, NDArray> vjp(NDList cotangent);

        @Override
        void close();
    }
}
