package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.fishleg.curvature.Bias;
import ai.fishleg.curvature.LayerRecords;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The curvature block of a fully connected layer (reference {@code FishLinear}, docs/ALGORITHM.md §5.2).
 *
 * <p>With weight W (out x in) and bias b (out), U = [W | b] (bias as the last column) and
 *
 * <pre>
 *   Q = D_A (RᵀR ⊗ LLᵀ) D_A     on vec_r(U),
 * </pre>
 *
 * with L ((in+1) x (in+1), identity at start) on the input side, R (out x out, identity) on the
 * output side and A (out x (in+1), all ones) a diagonal rescaling. Without a bias the column of
 * ones is left out everywhere (L is in x in). The gradients of L and R are masked to their upper
 * triangles (diagonal included), so the factors stay triangular as in the reference.
 *
 * <p>In the reference, {@code FishLinear} subclasses {@code nn.Linear} and replaces the user's
 * module. DJL blocks cannot be swapped in place, so here the block is attached to the user's
 * {@link Linear}, which stays as it is; {@link #forLayer} makes one.
 *
 * <p>With {@link CurvatureOptions#batchSpeedup()} A is left out, Q = RᵀR ⊗ LLᵀ, and Q can also be
 * applied to the minibatch gradient from the layer's inputs and output gradients without forming
 * the gradient ({@link #qg}, docs/ALGORITHM.md §12). DJL offers no hook through which FishLeg could capture them
 * inside a user's model, so the optimizer does so only for {@link RecordingLinear} layers, which
 * record them ({@link #recordedFactors}); for a plain {@link Linear} it applies Q to the gradient,
 * which gives the same numbers with more arithmetic.
 */
public final class FishLinear extends KroneckerBlock implements FactoredBlock {

    private final int inFeatures;
    private final int outFeatures;
    private final boolean bias;
    private NDArray probe;

    /**
     * A block not attached to any model (for computing with Q directly).
     *
     * @param inFeatures input features
     * @param outFeatures output features
     * @param bias whether the layer has a bias
     * @param parent manager under which the block's tensors live
     * @param dataType element type
     * @param options whether A is learned / batchSpeedup
     */
    public FishLinear(
            int inFeatures,
            int outFeatures,
            Bias bias,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        this("", new WeightMatrix("weight", new Shape(outFeatures, inFeatures), bias.present()),
                List.of(), null, parent, dataType, options);
    }

    private FishLinear(
            String name,
            WeightMatrix layout,
            List<Supplier<NDArray>> parameters,
            Linear layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        super(name, layout, parameters, layer, parent, dataType, options,
                InFactor.L_LT, OutFactor.MATRIX);
        this.inFeatures = layout.fan();
        this.outFeatures = layout.rows();
        this.bias = layout.bias();
        addGradientMask(L, Tensors.upperTriangularMask(manager, getCols(), dataType));
        addGradientMask(R, Tensors.upperTriangularMask(manager, getRows(), dataType));
    }

    /**
     * Attaches a block to an initialised DJL {@link Linear}.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised)
     * @param parent manager under which the block's tensors live
     * @param options whether A is learned / batchSpeedup
     * @return the block
     */
    public static FishLinear forLayer(
            String name, Linear layer, NDManager parent, CurvatureOptions options) {
        WeightMatrix layout = WeightMatrix.of(layer, "weight");
        DataType type = layer.getParameters().get("weight").getArray().getDataType();
        return new FishLinear(
                name, layout, layout.parameters(layer), layer, parent, type, options);
    }

    /** @return the number of input features */
    public int getInFeatures() {
        return inFeatures;
    }

    /** @return the number of output features */
    public int getOutFeatures() {
        return outFeatures;
    }

    /** @return whether the layer has a bias */
    public boolean hasBias() {
        return bias;
    }

    /**
     * The reference's {@code Qg} (docs/ALGORITHM.md §12): Q times the minibatch gradient U = Goutᵀ Â of this
     * layer, computed from the layer's inputs and output gradients without forming U:
     *
     * <pre>
     *   Qg = (RᵀR Goutᵀ) (Â LLᵀ)      Â = [inputs | 1] (n x (in+1)),  Gout (n x out)
     * </pre>
     *
     * where n is the number of rows after flattening all leading dimensions (the batch, or batch
     * times sequence length) and Gout already holds the 1/B of a mean loss. This equals {@link
     * #qv} applied to U and is cheaper when n &lt; min(out, in + 1).
     *
     * @param inputs the layer's inputs (..., in)
     * @param outputGradients dLoss/dOutput (..., out), same leading dimensions
     * @return Qg, one array per parameter (weight, bias), in the inputs' manager
     * @throws IllegalStateException if the block was not built with batchSpeedup (with A, Q does
     *     not factor over the rows)
     */
    public NDList qg(NDArray inputs, NDArray outputGradients) {
        requireNoA();
        long n = inputs.size() / inFeatures;
        if (inputs.size() != n * inFeatures || outputGradients.size() != n * outFeatures) {
            throw new IllegalArgumentException(
                    "inputs " + inputs.getShape() + " and output gradients "
                            + outputGradients.getShape() + " do not fit a linear layer "
                            + inFeatures + " -> " + outFeatures
                            + " with the same leading dimensions");
        }
        NDManager target = inputs.getManager();
        try (Scope s = Scope.open(target);
                GradientFactors f = factors(List.of(inputs), List.of(outputGradients), s)) {
            return Scope.keep(qg(f), target);
        }
    }

    /**
     * Qg from gradient factors (see {@link #qg(NDArray, NDArray)}).
     *
     * @param f the factors of U
     * @return Q U, in the factors' manager
     * @throws IllegalStateException if the block uses A
     */
    @Override
    public NDList qg(GradientFactors f) {
        requireNoA();
        NDManager target = f.inputs.getManager();
        NDArray m = outFactor();
        NDArray n = paddedInFactor();
        try (Scope s = Scope.open(target)) {
            s.use(m);
            s.use(n);
            NDArray mg = m.matMul(s.use(f.outputGradients).transpose());
            NDArray an = s.use(f.inputs).matMul(n);
            return Scope.keep(fromMatrix(mg.matMul(an)), target);
        }
    }

    private void requireNoA() {
        if (usesA()) {
            throw new IllegalStateException(
                    "qg needs a block built with batchSpeedup (Q = RᵀR ⊗ LLᵀ without A); this"
                            + " block of " + getName() + " uses A: apply qv to the gradient");
        }
    }

    /**
     * Whether the factored products pay off for a gradient with {@code rows} rows: Qg costs
     * 2o²n + 2nk² + 2onk, Qv on the formed gradient 2o²k + 2ok² (o = out, k = in + 1, n =
     * rows), so for a layer narrower than the batch the plain product is cheaper.
     *
     * @param rows n
     * @return true if {@link #qg(GradientFactors)} does less arithmetic than {@link #qv}
     */
    @Override
    public boolean factorsPayOff(long rows) {
        double o = getRows();
        double k = getCols();
        double qg = 2 * o * o * rows + 2 * rows * k * k + 2 * o * rows * k;
        return !usesA() && qg < 2 * o * o * k + 2 * o * k * k;
    }

    /** @return whether the layer is a {@link RecordingLinear} (batchSpeedup can factor U) */
    @Override
    public boolean canRecord() {
        return getLayer() instanceof RecordingLinear;
    }

    /**
     * Records the layer's training passes from now on (no-op unless {@link #canRecord()}), those
     * small enough for their factors to pay off.
     */
    @Override
    public void startRecording() {
        // a pass of n rows makes the step's rows at least n: from the first n at which the
        // factors do not pay off, the pass is only counted (its factors would not be used)
        LayerRecords.startRecording(getLayer(), firstRowsNotPayingOff());
    }

    @Override
    public void stopRecording() {
        LayerRecords.stopRecording(getLayer());
    }

    /** @return the least n ≥ 1 for which {@link #factorsPayOff} is false (it is for all larger n) */
    private long firstRowsNotPayingOff() {
        long hi = 1;
        while (factorsPayOff(hi)) {
            hi *= 2;
        }
        long lo = hi / 2; // factorsPayOff(lo) holds, or lo = 0
        while (hi - lo > 1) {
            long mid = (lo + hi) >>> 1;
            if (factorsPayOff(mid)) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return hi;
    }

    /** @return whether the layer is recording */
    @Override
    public boolean isRecording() {
        return LayerRecords.isRecording(getLayer());
    }

    /** Forgets the passes recorded so far (no-op unless {@link #canRecord()}). */
    @Override
    public void clearRecord() {
        LayerRecords.clear(getLayer());
    }

    /**
     * The factors of the gradient accumulated since the record was last cleared: the inputs and
     * output gradients of every recorded pass, stacked. A pass whose output got no gradient
     * contributes zero rows, as it contributes nothing to the gradient.
     *
     * @param target where the factors go
     * @return the factors, or null when nothing (usable) was recorded
     */
    @Override
    public GradientFactors recordedFactors(NDManager target) {
        List<LayerRecords.Pass> passes = LayerRecords.passes(getLayer());
        if (passes.isEmpty()) {
            return null;
        }
        List<NDArray> inputs = new ArrayList<>();
        List<NDArray> outputGradients = new ArrayList<>();
        try (Scope s = Scope.open(target)) {
            for (LayerRecords.Pass p : passes) {
                if (p.input().isReleased() || p.probe().isReleased()) {
                    return null; // the user closed the pass's arrays before the step
                }
                inputs.add(s.use(p.input()));
                outputGradients.add(s.own(s.use(p.probe()).getGradient()));
            }
            GradientFactors f = factors(inputs, outputGradients, s);
            f.attach(target);
            return f;
        }
    }

    @Override
    public long recordedRows() {
        long rows = LayerRecords.skippedRows(getLayer());
        for (LayerRecords.Pass p : LayerRecords.passes(getLayer())) {
            if (!p.input().isReleased()) {
                rows += p.input().size() / inFeatures;
            }
        }
        return rows;
    }

    /** Stacks the passes' rows: Â = [x | 1 | 0...] (n x width) and Gout (n x out), as copies. */
    private GradientFactors factors(
            List<NDArray> inputs, List<NDArray> outputGradients, Scope s) {
        NDList xs = new NDList();
        NDList gs = new NDList();
        for (int i = 0; i < inputs.size(); i++) {
            xs.add(inputs.get(i).reshape(-1, inFeatures));
            gs.add(outputGradients.get(i).reshape(-1, outFeatures));
        }
        NDArray x = xs.size() == 1 ? xs.get(0) : NDArrays.concat(xs, 0);
        long n = x.getShape().get(0);
        NDList columns = new NDList(x);
        if (bias) {
            columns.add(s.manager().ones(new Shape(n, 1), x.getDataType()));
        }
        if (width() > getCols()) {
            columns.add(s.manager().zeros(new Shape(n, width() - getCols()), x.getDataType()));
        }
        NDArray a = columns.size() == 1 ? x.duplicate() : NDArrays.concat(columns, 1);
        NDArray g = gs.size() == 1 ? gs.get(0).duplicate() : NDArrays.concat(gs, 0);
        return new GradientFactors(a, g);
    }

    /**
     * How far the factors are from reproducing a gradient: with a fixed random vector r, the
     * squared norms of U r − Goutᵀ(Â r) and of U r (one matrix-vector product over U). Stale
     * factors differ at order one; matching ones at rounding level.
     *
     * @param f the factors
     * @param gradient the layer's gradient (weight, bias)
     * @return a 2-element array [‖U r − Goutᵀ Â r‖², ‖U r‖²] in the factors' manager
     */
    @Override
    public NDArray factorMismatch(GradientFactors f, NDList gradient) {
        NDManager target = f.inputs.getManager();
        try (Scope s = Scope.open(target)) {
            s.use(gradient);
            NDArray r = s.use(probeVector());
            NDArray ur = gradient.get(0).reshape(getRows(), inFeatures)
                    .matMul(r.get(new NDIndex().addSliceDim(0, inFeatures)));
            if (bias) {
                ur = ur.add(gradient.get(1).reshape(getRows(), 1).mul(r.get(inFeatures)));
            }
            NDArray ar = s.use(f.inputs).matMul(r);
            NDArray err = ur.sub(s.use(f.outputGradients).transpose().matMul(ar));
            NDArray out = NDArrays.stack(new NDList(err.square().sum(), ur.square().sum()));
            return Scope.keep(out, target);
        }
    }

    /** A fixed N(0, 1) vector over U's columns, zero in the padding (width x 1). */
    private NDArray probeVector() {
        if (probe == null) {
            double[] z = new Rng(0x5eed).gaussians(width());
            java.util.Arrays.fill(z, getCols(), z.length, 0);
            probe = Tensors.create(manager, z, new Shape(width(), 1), dataType);
        }
        return probe;
    }

    /**
     * V = Q(λ)U with its vector-Jacobian product for U given by factors (batchSpeedup): the
     * reference's autograd through Qg. All products stay of rank n where that is cheaper:
     *
     * <pre>
     *   V = (M G)(Â N),  G = Goutᵀ
     *   ∂M = (D (ÂN)ᵀ) Gᵀ = Y Gᵀ        ∂R = R(∂M + ∂Mᵀ) = (R Y) Gᵀ + (R G) Yᵀ
     *   ∂N = Âᵀ ((M G)ᵀ D) = Âᵀ Z        ∂L = (∂N + ∂Nᵀ) L = Âᵀ (Z L) + Zᵀ (Â L)
     * </pre>
     *
     * each factor gradient formed densely instead when that costs less for the layer's shape.
     *
     * @param f the factors of U
     * @return the tape
     * @throws IllegalStateException if the block uses A
     */
    @Override
    public Tape factoredTape(GradientFactors f) {
        requireNoA();
        NDManager target = f.inputs.getManager();
        Scope scope = Scope.open(target);
        NDArray a = scope.use(f.inputs);
        NDArray g = scope.use(f.outputGradients).transpose();
        NDArray mg = scope.use(outFactor()).matMul(g);
        NDArray an = a.matMul(scope.use(paddedInFactor()));
        NDList v = fromMatrix(mg.matMul(an));
        double o = getRows();
        double n = a.getShape().get(0);
        double w = width();
        return tape(v, cotangent -> {
            scope.use(cotangent);
            NDArray d = toPaddedMatrix(cotangent);
            NDArray r = scope.use(getR());
            scope.use(getL());
            NDArray l = paddedL();
            NDArray y = d.matMul(an.transpose());
            NDArray gr;
            if (lowRankFactorGradient(o, n)) {
                gr = r.matMul(y).matMul(g.transpose()).addi(r.matMul(g).matMul(y.transpose()));
            } else {
                NDArray dm = y.matMul(g.transpose());
                gr = outFactorGradient(r, dm.add(dm.transpose()));
            }
            NDArray z = mg.transpose().matMul(d);
            NDArray gl;
            if (lowRankFactorGradient(w, n)) {
                gl = a.transpose().matMul(z.matMul(l)).addi(z.transpose().matMul(a.matMul(l)));
            } else {
                NDArray dn = a.transpose().matMul(z);
                gl = inFactorGradient(l, dn.add(dn.transpose()));
            }
            if (width() != getCols()) {
                gl = gl.get(new NDIndex().addSliceDim(0, getCols()).addSliceDim(0, getCols()));
            }
            Map<String, NDArray> grads = new LinkedHashMap<>();
            grads.put(L, Scope.keep(gl, target));
            grads.put(R, Scope.keep(gr, target));
            return grads;
        }, scope::close);
    }

    /**
     * Which form {@link #factoredTape} gives a factor gradient: for a factor of size {@code side}
     * and n gradient rows, the low-rank form (four products of rank n, 8·side²·n) when it costs
     * less than forming ∂M or ∂N densely and multiplying by the factor (2·side²·n + 2·side³).
     *
     * @param side rows of R (out) or columns of the padded L
     * @param rows n
     * @return whether the low-rank form is used
     */
    public static boolean lowRankFactorGradient(double side, double rows) {
        return 8 * side * side * rows < 2 * side * side * rows + 2 * side * side * side;
    }

    @Override
    protected boolean hasUpperTriangularMask(String aux) {
        return getGradientMasks().containsKey(aux);
    }

    @Override
    public int linearFanIn() {
        return inFeatures;
    }

    /** Whether the optimizer applies the factored products for gradients of n rows. */
    private boolean factored(long rows) {
        return canRecord() && factorsPayOff(rows);
    }

    /** Qg on the recorded factors where that is what the optimizer does, otherwise Qv. */
    @Override
    public FlopCount naturalGradientFlops(long gradientRows) {
        return factored(gradientRows)
                ? qgFlops(gradientRows) : super.naturalGradientFlops(gradientRows);
    }

    /** Qg = (M G)(Â N): 2o²n + 2nk² + 2onk. */
    private FlopCount qgFlops(double n) {
        double o = getRows();
        double k = getCols();
        return FlopCount.of(2 * o * o * n + 2 * n * k * k + 2 * o * n * k);
    }

    /**
     * With factors, the tape's Qg, the products Y = D (ÂN)ᵀ and Z = (M G)ᵀ D of its
     * vector-Jacobian product (2okn each), the two factor gradients in the form {@link
     * #factoredTape} picks ({@link #lowRankFactorGradient}) and the new cached factors.
     */
    @Override
    public FlopCount auxUpdateFlops(long gradientRows) {
        if (!factored(gradientRows)) {
            return super.auxUpdateFlops(gradientRows);
        }
        double n = gradientRows;
        double o = getRows();
        double k = getCols();
        return qgFlops(n)
                .plus(FlopCount.of(4 * o * k * n))
                .plus(factoredFactorGradientFlops(o, o, n, outFactorGradientFlops()))
                .plus(factoredFactorGradientFlops(k, width(), n, inFactorGradientFlops()))
                .plus(cachedFactorFlops());
    }

    /**
     * A factor gradient in factored form: the low-rank form's four products of rank n (8·side²·n;
     * two of them multiply by the triangular factor and two keep only an upper triangle, so half
     * of that is necessary), or ∂M (∂N) formed densely (2·side²·n) then multiplied by the factor.
     */
    private static FlopCount factoredFactorGradientFlops(
            double side, double width, double n, FlopCount dense) {
        if (lowRankFactorGradient(width, n)) {
            return new FlopCount(8 * side * side * n, 4 * side * side * n);
        }
        return FlopCount.of(2 * side * side * n).plus(dense);
    }
}
