package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.curvature.LayerRecords;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The K-FAC curvature block of one layer whose gradient is a matrix U (o x k) formed from the
 * layer's inputs and output gradients, U = Σ_rows g āᵀ: the Fisher block of vec(U) is approximated
 * by the Kronecker product of
 *
 * <pre>
 *   A = E[ā āᵀ]   (k x k, ā a row of layer input, with a 1 appended when there is a bias)
 *   G = E[g gᵀ]   (o x o, g the gradient of the loss with respect to the layer output)
 * </pre>
 *
 * <p>Estimates come from one pass with labels sampled from the model (the true Fisher): with n
 * rows of inputs Â (n x k) and output gradients Ĝ (n x o) of a loss that is a mean over B
 * examples, Â ᵀÂ / n estimates A and B·ĜᵀĜ estimates G (each row of Ĝ carries the factor 1/B of
 * the mean; B² / B turns the sum over examples into an average). For a fully connected layer on
 * unbatched features n = B; with more rows per example (sequences, convolution positions) A
 * averages over all rows and G sums over the rows of each example, so that A ⊗ G is the usual
 * "expand" / KFC approximation.
 *
 * <p>State, refreshed in one place ({@link #commit}): the exponential moving averages A and G,
 * and the inverses of the factored-Tikhonov damped factors (A + π√γ I)⁻¹ and (G + √γ/π I)⁻¹ with
 * π = √((tr A / k) / (tr G / o)) (π = 1 when either trace is not positive). The preconditioned
 * gradient is (G + √γ/π I)⁻¹ U (A + π√γ I)⁻¹, which is the damped Kronecker product's inverse
 * applied to vec(U); it is computed from the factors of U, (G⁻¹Ĝᵀ)(Â A⁻¹), when that costs less
 * ({@link #activationFormPaysOff}).
 *
 * <p>Subclasses say how a layer's parameters map to U and how its recorded passes map to rows:
 * {@link LinearBlock} and {@link Conv2dBlock}.
 */
public abstract class KroneckerFactoredBlock implements AutoCloseable {

    private final String name;
    private final Block layer;
    /** The layout [W | b] of the layer's parameters as one matrix, as FishLeg's blocks use it. */
    private final WeightMatrix layout;
    private final List<Supplier<NDArray>> parameters;
    /** Owns the block's state. */
    protected final NDManager manager;
    /** Element type of the layer's parameters and of the state. */
    protected final DataType dataType;
    private final int inDim;
    private final int outDim;
    private final NDArray inputFactor;
    private final NDArray outputFactor;
    private final NDArray inputInverse;
    private final NDArray outputInverse;
    private NDArray checkVector;
    /** 1/(d_G d_Aᵀ + γ) of the last inversion under {@link DampingForm#EIGEN}; absent otherwise. */
    private Optional<NDArray> eigenScale = Optional.empty();
    private double pi = 1;
    private long factorUpdates;
    private long inversions;

    /**
     * @param name the layer's dotted name
     * @param layer the layer, initialised
     * @param layout how its weight and bias form U (o = its rows, k = its columns)
     * @param parent manager under which the state lives
     */
    protected KroneckerFactoredBlock(
            String name, Block layer, WeightMatrix layout, NDManager parent) {
        this.name = name;
        this.layer = layer;
        this.layout = layout;
        this.parameters = layout.parameters(layer);
        this.manager = parent.newSubManager();
        this.dataType = parameters.get(0).get().getDataType();
        this.inDim = layout.cols();
        this.outDim = layout.rows();
        this.inputFactor = manager.zeros(new Shape(inDim, inDim), dataType);
        this.outputFactor = manager.zeros(new Shape(outDim, outDim), dataType);
        this.inputInverse = manager.eye(inDim, inDim, 0, dataType);
        this.outputInverse = manager.eye(outDim, outDim, 0, dataType);
    }

    /**
     * Prepares the state for a damping form: under {@link DampingForm#EIGEN} the inverses hold
     * the eigenvectors Q_A and Q_G, and an o x k array the scale 1/(d_G d_Aᵀ + γ) (all ones, so
     * the identity, before the first inversion). Called once, before the first step.
     *
     * @param form the damping form of the run
     */
    void prepareFor(DampingForm form) {
        if (form == DampingForm.EIGEN && eigenScale.isEmpty()) {
            eigenScale = Optional.of(manager.ones(new Shape(outDim, inDim), dataType));
        }
    }

    // ---------------------------------------------------------------------------------------
    // structure

    /** @return the layer's parameters, in the order of {@link #getParameterNames()} */
    public final List<NDArray> getParameterArrays() {
        List<NDArray> out = new ArrayList<>(parameters.size());
        for (Supplier<NDArray> p : parameters) {
            out.add(p.get());
        }
        return out;
    }

    /** @return the names of the layer's parameters ({@code weight}, {@code bias}) */
    public final List<String> getParameterNames() {
        return layout.order();
    }

    /**
     * @param gradient one array per parameter
     * @return U (o x k), in the gradient's manager
     */
    final NDArray gradientMatrix(NDList gradient) {
        return layout.toMatrix(gradient);
    }

    /**
     * @param u a matrix shaped as U
     * @return one array per parameter, shaped as the parameters, in u's manager
     */
    final NDList fromMatrix(NDArray u) {
        return layout.fromMatrix(u);
    }

    /**
     * The input rows of one pass, one per row of U's gradient sum, without the bias column.
     *
     * @param input the layer's input
     * @param scope owns the result
     * @return n x (k, less one with a bias)
     */
    protected abstract NDArray inputRows(NDArray input, Scope scope);

    /**
     * @param outputGradient the gradient of the loss with respect to the layer's output
     * @return its rows, Ĝ (n x o), in the order of {@link #inputRows}
     */
    protected abstract NDArray outputRows(NDArray outputGradient);

    /**
     * The rows of one pass: Â (n x k, with the column of ones for a bias) and Ĝ (n x o).
     *
     * @param input the layer's input
     * @param outputGradient the gradient of the loss with respect to the layer's output
     * @param scope owns the results
     * @return the rows
     */
    final Rows rowsOf(NDArray input, NDArray outputGradient, Scope scope) {
        NDArray x = inputRows(input, scope);
        NDArray g = outputRows(outputGradient);
        if (!layout.bias()) {
            return new Rows(x, g);
        }
        NDArray ones = scope.manager().ones(new Shape(x.getShape().get(0), 1), x.getDataType());
        return new Rows(NDArrays.concat(new NDList(x, ones), 1), g);
    }

    /**
     * Rows of inputs and output gradients whose product Ĝᵀ Â is the gradient U.
     *
     * @param inputs Â (n x k)
     * @param outputGradients Ĝ (n x o)
     */
    public record Rows(NDArray inputs, NDArray outputGradients) {
        /** @return n */
        public long count() {
            return inputs.getShape().get(0);
        }
    }

    /**
     * The rows of every recorded pass, stacked; the output gradients are the probes' gradients
     * left by the last backward pass.
     *
     * @param passes the passes
     * @param scope owns the rows
     * @return the rows, or null when there are none or their arrays were closed
     */
    Rows rows(List<LayerRecords.Pass> passes, Scope scope) {
        if (passes.isEmpty()) {
            return null;
        }
        NDList xs = new NDList();
        NDList gs = new NDList();
        for (LayerRecords.Pass p : passes) {
            if (p.input().isReleased() || p.probe().isReleased()) {
                return null;
            }
            // a sub-scope per pass: an array may be the input of several passes or layers, and
            // one scope must not borrow the same array twice
            try (Scope s = Scope.open(scope.manager())) {
                NDArray gradient = s.own(s.use(p.probe()).getGradient());
                Rows r = rowsOf(s.use(p.input()), gradient, s);
                xs.add(Scope.keep(r.inputs(), scope.manager()));
                gs.add(Scope.keep(r.outputGradients(), scope.manager()));
            }
        }
        return xs.size() == 1 ? new Rows(xs.get(0), gs.get(0))
                : new Rows(NDArrays.concat(xs, 0), NDArrays.concat(gs, 0));
    }

    /**
     * @param passes recorded passes
     * @return the number of rows they give (from the probes' sizes; nothing is computed)
     */
    long rowCount(List<LayerRecords.Pass> passes) {
        long n = 0;
        for (LayerRecords.Pass p : passes) {
            n += p.probe().isReleased() ? 0 : p.probe().size() / outDim;
        }
        return n;
    }

    // ---------------------------------------------------------------------------------------
    // statistics

    /**
     * The factors after one more statistics update, out of place: statDecay·old + (1 −
     * statDecay)·estimate, where old at the first update is the identity ({@link
     * FactorInit#IDENTITY}), or the first update is the estimate itself ({@link
     * FactorInit#FIRST_ESTIMATE}).
     *
     * @param rows the rows of the sampled-label pass
     * @param batchSize B, the number of examples the loss averages over
     * @param statDecay weight of the old factors
     * @param init what the averages start from
     * @param scope owns the results
     * @return the new A and G
     */
    NDList nextFactors(Rows rows, long batchSize, double statDecay, FactorInit init, Scope scope) {
        NDArray x = rows.inputs();
        NDArray g = rows.outputGradients();
        NDArray a = Tensors.mulConst(x.transpose().matMul(x), 1.0 / rows.count());
        NDArray gg = Tensors.mulConst(g.transpose().matMul(g), batchSize);
        return nextFactors(a, gg, statDecay, init, scope);
    }

    /**
     * The factors after one more statistics update from the estimates themselves.
     *
     * @param a this update's estimate of A
     * @param gg this update's estimate of G
     * @param statDecay weight of the old factors
     * @param init what the averages start from
     * @param scope owns the results
     * @return the new A and G
     */
    NDList nextFactors(NDArray a, NDArray gg, double statDecay, FactorInit init, Scope scope) {
        if (factorUpdates == 0 && init == FactorInit.FIRST_ESTIMATE) {
            return new NDList(a, gg);
        }
        NDManager m = scope.manager();
        NDArray oldA = factorUpdates == 0 ? m.eye(inDim, inDim, 0, dataType)
                : scope.use(inputFactor);
        NDArray oldG = factorUpdates == 0 ? m.eye(outDim, outDim, 0, dataType)
                : scope.use(outputFactor);
        return new NDList(
                Tensors.mulConst(oldA, statDecay).addi(Tensors.mulConst(a, 1 - statDecay)),
                Tensors.mulConst(oldG, statDecay).addi(Tensors.mulConst(gg, 1 - statDecay)));
    }

    /**
     * Writes a new state (the values were checked to be finite).
     *
     * @param factors new A and G, or null if unchanged
     * @param inverses new inverses, or null if unchanged
     */
    void commit(NDList factors, DampedInverse inverses) {
        if (factors != null) {
            Tensors.assign(inputFactor, factors.get(0));
            Tensors.assign(outputFactor, factors.get(1));
            factorUpdates++;
        }
        if (inverses instanceof DampedInverse.Factored f) {
            Tensors.assign(inputInverse, f.inverses().input());
            Tensors.assign(outputInverse, f.inverses().output());
            pi = f.inverses().pi();
            inversions++;
        } else if (inverses instanceof DampedInverse.EigenBases e) {
            Tensors.assign(inputInverse, e.inputBasis());
            Tensors.assign(outputInverse, e.outputBasis());
            Tensors.assign(eigenScale.orElseThrow(() -> new IllegalStateException(
                    "the block was not prepared for EIGEN damping")), e.scale());
            inversions++;
        }
    }

    // ---------------------------------------------------------------------------------------
    // preconditioning

    /**
     * Whether the activation form (G⁻¹Ĝᵀ)(Â A⁻¹) costs less than the weight form G⁻¹ U A⁻¹ for n
     * rows: o²n + nk² + onk against o²k + ok² multiply-adds.
     *
     * @param rows n
     * @return whether to use the activation form
     */
    public boolean activationFormPaysOff(long rows) {
        double o = outDim;
        double k = inDim;
        double n = rows;
        return o * o * n + n * k * k + o * n * k < o * o * k + o * k * k;
    }

    /**
     * The preconditioned gradient in the weight form, with the given inverses.
     *
     * @param inverses the damped inverses
     * @param gradient one array per parameter
     * @param scope owns the result
     * @return one array per parameter
     */
    NDList precondition(DampedInverse inverses, NDList gradient, Scope scope) {
        scope.use(gradient);
        scope.use(inverses.arrays());
        return fromMatrix(inverses.apply(gradientMatrix(gradient)));
    }

    /**
     * The preconditioned gradient in the activation form, U = Ĝᵀ Â given by its rows.
     *
     * @param inverses the damped inverses
     * @param rows Â and Ĝ
     * @param scope owns the result
     * @return one array per parameter
     */
    NDList precondition(DampedInverse inverses, Rows rows, Scope scope) {
        scope.use(inverses.arrays());
        return fromMatrix(inverses.applyToRows(scope.use(rows.outputGradients()),
                scope.use(rows.inputs())));
    }

    /** @return the current inverses (live arrays) */
    DampedInverse currentInverses() {
        if (eigenScale.isPresent()) {
            return new DampedInverse.EigenBases(inputInverse, outputInverse, eigenScale.get());
        }
        return new DampedInverse.Factored(new Inverses(inputInverse, outputInverse, pi));
    }

    /** @return 1/(d_G d_Aᵀ + γ) of the last inversion under EIGEN damping (live), else empty */
    public Optional<NDArray> getEigenScale() {
        return eigenScale;
    }

    /**
     * The preconditioned gradient with the current inverses, in the weight form (for checking a
     * block against a dense computation).
     *
     * @param gradient one array per parameter
     * @return one array per parameter, in the gradient's manager
     */
    public NDList precondition(NDList gradient) {
        NDManager target = gradient.head().getManager();
        try (Scope s = Scope.open(target)) {
            return Scope.keep(precondition(currentInverses(), gradient, s), target);
        }
    }

    /**
     * The preconditioned gradient with the current inverses, in the activation form, for a
     * gradient given by one pass's input and output gradient.
     *
     * @param input the layer's input
     * @param outputGradient the gradient of the loss with respect to the layer's output
     * @return one array per parameter, in the input's manager
     */
    public NDList precondition(NDArray input, NDArray outputGradient) {
        NDManager target = input.getManager();
        try (Scope s = Scope.open(target)) {
            Rows r = rowsOf(s.use(input), s.use(outputGradient), s);
            return Scope.keep(precondition(currentInverses(), r, s), target);
        }
    }

    /**
     * How far the rows are from reproducing a gradient: with a fixed random vector r, the squared
     * norms of U r − Ĝᵀ(Â r) and of U r.
     *
     * @param rows the rows
     * @param gradient the layer's gradient
     * @param scope owns the result
     * @return [‖U r − Ĝᵀ Â r‖², ‖U r‖²]
     */
    NDArray mismatch(Rows rows, NDList gradient, Scope scope) {
        if (checkVector == null) {
            checkVector = Tensors.create(manager, new Rng(0x6b666163L).gaussians(inDim),
                    new Shape(inDim, 1), dataType);
        }
        NDArray r = scope.use(checkVector);
        NDArray ur = gradientMatrix(scope.use(gradient)).matMul(r);
        NDArray ar = scope.use(rows.inputs()).matMul(r);
        NDArray err = ur.sub(scope.use(rows.outputGradients()).transpose().matMul(ar));
        return NDArrays.stack(new NDList(err.square().sum(), ur.square().sum()));
    }

    // ---------------------------------------------------------------------------------------
    // accessors

    /** @return the layer's dotted name */
    public String getName() {
        return name;
    }

    /** @return the layer */
    public Block getLayer() {
        return layer;
    }

    /** @return k, the side of A */
    public int getInputDim() {
        return inDim;
    }

    /** @return o, the side of G */
    public int getOutputDim() {
        return outDim;
    }

    /** @return A, the moving average of E[ā āᵀ] (live; zero before the first update) */
    public NDArray getInputFactor() {
        return inputFactor;
    }

    /** @return G, the moving average of E[g gᵀ] (live; zero before the first update) */
    public NDArray getOutputFactor() {
        return outputFactor;
    }

    /**
     * @return (A + π√γ I)⁻¹ of the last inversion, or Q_A under EIGEN damping (live; identity
     *     before the first)
     */
    public NDArray getInputInverse() {
        return inputInverse;
    }

    /**
     * @return (G + √γ/π I)⁻¹ of the last inversion, or Q_G under EIGEN damping (live; identity
     *     before the first)
     */
    public NDArray getOutputInverse() {
        return outputInverse;
    }

    /** @return π of the last inversion (1 before the first) */
    public double getPi() {
        return pi;
    }

    /** @return the number of statistics updates so far */
    public long getFactorUpdates() {
        return factorUpdates;
    }

    /** @return the number of inversions so far */
    public long getInversions() {
        return inversions;
    }

    /** Restores the counters and π after the state's arrays were loaded. */
    void restoreCounters(long factorUpdates, long inversions, double pi) {
        this.factorUpdates = factorUpdates;
        this.inversions = inversions;
        this.pi = pi;
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(A " + inDim + "x" + inDim + ", G " + outDim + "x"
                + outDim + ")";
    }

    /** Frees the state. */
    @Override
    public void close() {
        manager.close();
    }
}
