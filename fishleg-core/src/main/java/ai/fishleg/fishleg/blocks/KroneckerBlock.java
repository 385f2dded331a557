package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * The Kronecker-factored block shared by weight-matrix layers (docs/ALGORITHM.md §5.1). The block's
 * parameters are laid out as one matrix U (out x k, bias as the last column) and
 *
 * <pre>
 *   Q(λ) vec_r(U) = vec_r( A ⊙ (M (A ⊙ U) N) ),   M = RᵀR (out x out),  N = LLᵀ or LᵀL (k x k)
 * </pre>
 *
 * i.e. Q = D_A (M ⊗ N) D_A with D_A = diag(vec_r(A)): symmetric positive semi-definite for every
 * λ = (L, R, A). With {@link CurvatureOptions#batchSpeedup()} A is left out (Q = M ⊗ N).
 *
 * <p>When the out side is large (an embedding's vocabulary), R can be a vector r instead of a
 * matrix, and M = diag(r²) (docs/ALGORITHM.md §5.6).
 *
 * <p>M and N change only when λ changes, so they live in the block's {@link AuxState} cache until
 * the next write of λ.
 */
public abstract class KroneckerBlock extends CurvatureBlock {

    /** Name of the in-side factor L (k x k). */
    public static final String L = "L";
    /** Name of the out-side factor R (out x out). */
    public static final String R = "R";
    /** Name of the diagonal rescaling A (out x k). */
    public static final String A = "A";

    /**
     * From this size on, the products of a block-triangular factor (its Gram matrix, and the
     * masked part of its gradient) are assembled from half-size products ({@link
     * TriangularProducts}); below it one plain product is faster. Measured on PyTorch's CPU
     * products (float32): with two threads the split Gram matrix is faster from about 780 and
     * slower at 512, the split factor gradient faster at 1000 and about even at 800; with one
     * thread both are faster from 512 on.
     */
    public static final int TRIANGULAR_SPLIT_FROM = 640;

    /** How the in-side factor L forms N. */
    public enum InFactor {
        /** N = LLᵀ (fully connected layers, embeddings). */
        L_LT,
        /** N = LᵀL (convolutions, as in the reference). */
        LT_L
    }

    /** How the out-side factor R forms M. */
    public enum OutFactor {
        /** R is out x out (identity at start) and M = RᵀR. */
        MATRIX,
        /** R is a vector of length out (ones at start) and M = diag(R²) (embeddings). */
        DIAGONAL
    }

    private final WeightMatrix layout;
    private final int rows;
    private final int cols;
    private final CurvatureOptions options;
    private final InFactor inFactor;
    private final OutFactor outFactor;
    private final boolean inFactorTransposed;
    private final boolean outFactorDiagonal;
    /** Columns of the padded U that every product works on ({@link WeightMatrix#paddedCols}). */
    private final int width;

    /**
     * @param name layer name
     * @param layout how the parameters form U (which also gives their names, in block order)
     * @param parameters suppliers of the live parameter arrays (or empty for a detached block)
     * @param layer the DJL layer, or null
     * @param parent parent manager
     * @param dataType element type
     * @param options whether A is learned / batchSpeedup
     * @param inFactor how L forms N
     * @param outFactor how R forms M
     */
    protected KroneckerBlock(
            String name,
            WeightMatrix layout,
            List<Supplier<NDArray>> parameters,
            Block layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options,
            InFactor inFactor,
            OutFactor outFactor) {
        super(name, layout.order(), parameters, layer, parent, dataType);
        this.layout = layout;
        this.rows = layout.rows();
        this.cols = layout.cols();
        this.options = options;
        this.inFactor = inFactor;
        this.outFactor = outFactor;
        this.inFactorTransposed = inFactor == InFactor.LT_L;
        this.outFactorDiagonal = outFactor == OutFactor.DIAGONAL;
        this.width = layout.paddedCols(dataType);
        addAux(L, eye(cols));
        addAux(R, outFactorDiagonal
                ? Tensors.create(manager, ones(rows), new Shape(rows), dataType)
                : eye(rows));
        addAux(A, Tensors.create(manager, ones(rows * cols), new Shape(rows, cols), dataType));
    }

    private NDArray eye(int n) {
        double[] d = new double[n * n];
        for (int i = 0; i < n; i++) {
            d[i * n + i] = 1;
        }
        return Tensors.create(manager, d, new Shape(n, n), dataType);
    }

    private static double[] ones(int n) {
        double[] d = new double[n];
        java.util.Arrays.fill(d, 1);
        return d;
    }

    /** @return rows of U (output units / channels) */
    public int getRows() {
        return rows;
    }

    /** @return columns of U (fan-in, plus one when there is a bias) */
    public int getCols() {
        return cols;
    }

    /** @return the options this block was built with */
    public CurvatureOptions getOptions() {
        return options;
    }

    /** @return the in-side factor L */
    public NDArray getL() {
        return aux(L);
    }

    /** @return the out-side factor R (a vector when {@link #isOutFactorDiagonal()}) */
    public NDArray getR() {
        return aux(R);
    }

    /** @return the diagonal rescaling A */
    public NDArray getA() {
        return aux(A);
    }

    /** @return whether R is a vector and M = diag(R²) */
    public boolean isOutFactorDiagonal() {
        return outFactorDiagonal;
    }

    /** @return whether A takes part in Q (false under batchSpeedup) */
    public boolean usesA() {
        return !options.batchSpeedup();
    }

    @Override
    public boolean isTrainable(String auxName) {
        if (A.equals(auxName)) {
            return usesA() && options.full();
        }
        return true;
    }

    /**
     * R of M = RᵀR is a column Gram factor (a diagonal R scales entrywise); L is a row Gram
     * factor for N = LLᵀ and a column Gram factor for N = LᵀL; A scales entrywise.
     */
    @Override
    public FactorForm factorForm(String auxName) {
        if (R.equals(auxName)) {
            return outFactorDiagonal ? FactorForm.ENTRYWISE : FactorForm.COLUMN_GRAM;
        }
        if (L.equals(auxName)) {
            return inFactorTransposed ? FactorForm.COLUMN_GRAM : FactorForm.ROW_GRAM;
        }
        return FactorForm.ENTRYWISE;
    }

    /** @return how the parameters form U */
    public WeightMatrix getLayout() {
        return layout;
    }

    /**
     * Lays a block vector out as the matrix U (out x k). It may return an array of {@code v}
     * itself (no copy) when the layout already matches.
     *
     * @param v one array per parameter
     * @return U
     */
    protected final NDArray toMatrix(NDList v) {
        return layout.toMatrix(v);
    }

    /**
     * Inverse of {@link #toMatrix}.
     *
     * @param matrix an out x k matrix
     * @return one array per parameter, shaped like the parameters
     */
    protected final NDList fromMatrix(NDArray matrix) {
        return layout.fromMatrix(matrix);
    }

    /** U padded with zero columns to {@link #width}: the form every product works on. */
    protected final NDArray toPaddedMatrix(NDList v) {
        return layout.toMatrix(v, width);
    }

    /**
     * @param aux an aux tensor's name
     * @return whether its gradient mask keeps exactly the upper triangle (FishLinear's L and R):
     *     then the VJP computes only that part ({@link TriangularProducts#upperOfProduct})
     */
    protected boolean hasUpperTriangularMask(String aux) {
        return false;
    }

    /** R(∂M + ∂Mᵀ): the gradient of R through M = RᵀR, given ∂M + ∂Mᵀ (in its manager). */
    final NDArray outFactorGradient(NDArray r, NDArray dmSym) {
        return TriangularProducts.factorProduct(r, dmSym, true, hasUpperTriangularMask(R));
    }

    /** The gradient of the padded L through N = LLᵀ or LᵀL, given ∂N + ∂Nᵀ (in its manager). */
    final NDArray inFactorGradient(NDArray paddedL, NDArray dnSym) {
        return TriangularProducts.factorProduct(
                paddedL, dnSym, inFactorTransposed, hasUpperTriangularMask(L));
    }

    /** @return the padded width of U that the products work on ({@link WeightMatrix#paddedCols}) */
    protected final int width() {
        return width;
    }

    /** @return M = RᵀR, or the vector R² when the out factor is diagonal (cached) */
    protected NDArray outFactor() {
        return state().cached(CachedProduct.M, () -> outFactorDiagonal
                ? getR().square() : TriangularProducts.gram(getR(), true));
    }

    /**
     * Copies of Q's Kronecker factors, for reading (pruning, inspection): M (out x out; a diagonal
     * M as a matrix) and N (k x k), in float64, so that Q = D_A (M ⊗ N) D_A ({@link #getA()}, left
     * out when {@link #usesA()} is false).
     *
     * @param target manager of the copies
     * @return M and N
     */
    public NDList copyOfFactors(NDManager target) {
        NDArray m = outFactor();
        NDArray n = inFactor();
        try (Scope s = Scope.open(target)) {
            s.use(m);
            s.use(n);
            NDArray m64 = m.toType(DataType.FLOAT64, true);
            if (outFactorDiagonal) {
                m64 = s.manager().eye(rows, rows, 0, DataType.FLOAT64).mul(m64.reshape(1, rows));
            }
            return Scope.keep(new NDList(m64, n.toType(DataType.FLOAT64, true)), target);
        }
    }

    /** M X, for a matrix M or a diagonal M stored as a vector. */
    final NDArray mulOut(NDArray m, NDArray x) {
        return outFactorDiagonal ? x.mul(m.reshape(rows, 1)) : m.matMul(x);
    }

    /** @return N = LLᵀ or LᵀL (cached; a view of the padded factor) */
    protected NDArray inFactor() {
        return state().cached(CachedProduct.N_VIEW, () -> width == cols
                ? paddedInFactor()
                : paddedInFactor().get(new NDIndex().addSliceDim(0, cols).addSliceDim(0, cols)));
    }

    /** @return N padded with zero rows and columns to width x width (cached) */
    protected final NDArray paddedInFactor() {
        return state().cached(CachedProduct.N,
                () -> TriangularProducts.gram(paddedL(), inFactorTransposed));
    }

    /**
     * @return L padded with zeros to width x width (cached: N and the L-gradient both need it; L
     *     itself when no padding is needed)
     */
    protected final NDArray paddedL() {
        if (width == cols) {
            return getL();
        }
        return state().cached(CachedProduct.PADDED_L,
                () -> getL().pad(new Shape(0, width - cols, 0, width - cols), 0));
    }

    /** @return A padded with zero columns to width (cached; A itself when no padding is needed) */
    final NDArray paddedA() {
        if (width == cols) {
            return getA();
        }
        return state().cached(CachedProduct.PADDED_A,
                () -> getA().pad(new Shape(0, width - cols), 0));
    }

    @Override
    public NDList qv(NDList v) {
        NDManager target = v.head().getManager();
        NDArray m = outFactor();
        NDArray n = paddedInFactor();
        NDArray a = usesA() ? paddedA() : null;
        try (Scope s = Scope.open(target)) {
            s.use(m);
            s.use(n);
            s.use(a);
            s.use(v);
            NDArray u = toPaddedMatrix(v);
            // A ⊙ U in place when U is already a copy (never on the caller's gradient itself)
            NDArray x = !usesA() ? u : layout.copies(width) ? u.muli(a) : u.mul(a);
            NDArray y = mulOut(m, x).matMul(n);
            NDArray out = usesA() ? y.muli(a) : y;
            return Scope.keep(fromMatrix(out), target);
        }
    }

    @Override
    public Tape qvTape(NDList u) {
        return new KroneckerTape(this, u);
    }

    @Override
    public NDList diagQ() {
        NDArray m = outFactor();
        NDArray n = inFactor();
        try (Scope s = Scope.open(manager)) {
            s.use(m);
            s.use(n);
            s.use(getA());
            NDArray diagM = outFactorDiagonal ? m : m.diagonal();
            NDArray d = diagM.reshape(rows, 1).mul(n.diagonal().reshape(1, cols));
            if (usesA()) {
                d = d.mul(getA().square());
            }
            return Scope.keep(fromMatrix(d), manager);
        }
    }

    @Override
    public void warmup(NDList v, double initScale) {
        if (v == null) {
            if (usesA()) {
                state().scale(A, Math.sqrt(initScale));
            } else {
                // A is unused: Q = (s^¼R)ᵀ(s^¼R) ⊗ (s^¼L)(s^¼L)ᵀ = s·I (docs/ALGORITHM.md §6.1 [FIX]).
                double q = Math.pow(initScale, 0.25);
                state().scale(L, q);
                state().scale(R, q);
            }
            return;
        }
        try (Scope s = Scope.open(manager)) {
            s.use(v);
            NDArray d = toMatrix(v);
            if (usesA()) {
                state().assign(A, d);
            } else { // diag(M ⊗ N) ≈ D ⊙ D with diagonal R and L (docs/ALGORITHM.md §6.2 [FIX])
                assignFactors(KroneckerTargets.diagonalWarmup(d, outFactor));
            }
        }
    }

    /** Writes R and L. */
    private void assignFactors(KroneckerTargets.Factors f) {
        Shape rShape = outFactorDiagonal ? new Shape(rows) : new Shape(rows, rows);
        try (NDArray r = Tensors.create(manager, f.r(), rShape, dataType);
                NDArray l = Tensors.create(manager, f.l(), new Shape(cols, cols), dataType)) {
            state().assign(R, r);
            state().assign(L, l);
        }
    }

    /**
     * The Kronecker start (docs/ALGORITHM.md §18): sets λ so that Q = M ⊗ N exactly, for given
     * symmetric positive definite M (out x out) and N (k x k), typically K-FAC's damped inverse
     * factors (G + √γ/π I)⁻¹ and (A + π√γ I)⁻¹. R and L become the triangular square roots in
     * the form the block uses (upper-triangular R with RᵀR = M; upper-triangular L with LLᵀ = N,
     * or LᵀL = N for convolutions), and A becomes all ones. With a diagonal out factor, R² takes
     * M's diagonal.
     *
     * <p>A matrix that is not numerically positive definite is factorised with a small jitter on
     * its diagonal ({@link TriangularRoots}); if that fails too, nothing of the block is written.
     *
     * @param outInverse M, out x out
     * @param inInverse N, k x k
     * @return SET, SET_WITH_JITTER, or KEPT when a matrix did not factorise and the block kept
     *     its factors
     * @throws IllegalArgumentException if a shape is wrong
     */
    public TriangularRoots.Outcome kroneckerStart(NDArray outInverse, NDArray inInverse) {
        if (!outInverse.getShape().equals(new Shape(rows, rows))
                || !inInverse.getShape().equals(new Shape(cols, cols))) {
            throw new IllegalArgumentException("layer " + getName() + ": the Kronecker start needs"
                    + " factors of shapes (" + rows + ", " + rows + ") and (" + cols + ", " + cols
                    + "), got " + outInverse.getShape() + " and " + inInverse.getShape());
        }
        Optional<KroneckerTargets.Factors> f =
                KroneckerTargets.kroneckerStart(outInverse, inInverse, outFactor, inFactor);
        if (f.isEmpty()) {
            return TriangularRoots.Outcome.KEPT;
        }
        assignFactors(f.get());
        try (NDArray ones = Tensors.create(
                manager, ones(rows * cols), new Shape(rows, cols), dataType)) {
            state().assign(A, ones);
        }
        return f.get().outcome();
    }

    // ---------------------------------------------------------------------------------------
    // FLOPs of the products, on U's own columns (the padding to the working width not counted)

    /** @return the FLOPs of one {@link #qv}: M X (2o²k, or ok for a diagonal M) and X N (2ok²) */
    public FlopCount qvFlops() {
        double o = rows;
        double c = cols;
        double out = outFactorDiagonal ? o * c : 2 * o * o * c;
        return FlopCount.of(out + 2 * o * c * c);
    }

    /** One natural gradient is one {@link #qv}. */
    @Override
    public FlopCount naturalGradientFlops(long gradientRows) {
        return qvFlops();
    }

    /**
     * The tape's Qv; its vector-Jacobian product: P = (D ⊙ A) N (2ok²), ∂M = P Xᵀ (2o²k, its
     * diagonal 2ok for a diagonal M), ∂N = (M X)ᵀ (D ⊙ A) (2ok², M X kept from the forward
     * pass), the A-gradient M P (only when A is learned) and the factor gradients; then the new
     * cached factors M and N.
     */
    @Override
    public FlopCount auxUpdateFlops(long gradientRows) {
        double o = rows;
        double c = cols;
        double outProduct = outFactorDiagonal ? o * c : 2 * o * o * c; // M times an o x c matrix
        return qvFlops()
                .plus(FlopCount.of(2 * o * c * c)) // P = (D ⊙ A) N
                .plus(FlopCount.of(outFactorDiagonal ? 2 * o * c : 2 * o * o * c)) // P Xᵀ
                .plus(FlopCount.of(2 * o * c * c)) // (M X)ᵀ (D ⊙ A)
                .plus(FlopCount.of(isTrainable(A) ? outProduct : 0)) // M P
                .plus(outFactorDiagonal ? FlopCount.of(2 * o) : outFactorGradientFlops())
                .plus(inFactorGradientFlops())
                .plus(cachedFactorFlops());
    }

    /** @return the FLOPs of R(∂M + ∂Mᵀ) given ∂M + ∂Mᵀ (out x out) */
    protected final FlopCount outFactorGradientFlops() {
        return TriangularProducts.factorProductFlops(rows, rows, hasUpperTriangularMask(R));
    }

    /** @return the FLOPs of (∂N + ∂Nᵀ)L or L(∂N + ∂Nᵀ) given ∂N + ∂Nᵀ (k x k) */
    protected final FlopCount inFactorGradientFlops() {
        return TriangularProducts.factorProductFlops(cols, width, hasUpperTriangularMask(L));
    }

    /** @return the FLOPs of recomputing the cached M and N after λ changed */
    protected final FlopCount cachedFactorFlops() {
        FlopCount m = outFactorDiagonal ? FlopCount.of(rows)
                : TriangularProducts.gramFlops(rows, rows, hasUpperTriangularMask(R));
        return m.plus(TriangularProducts.gramFlops(cols, width, hasUpperTriangularMask(L)));
    }

    /** The layer's products: 2nok forward, 4nok backward (exact for linear layers). */
    @Override
    public double layerFlops(long batchRows) {
        return 6.0 * batchRows * rows * cols;
    }
}
