package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The Kronecker-factored block shared by weight-matrix layers (SPEC 10.1, 10.3). The block's
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
 * matrix, and M = diag(r²) (SPEC 10.6).
 *
 * <p>M and N change only when λ changes, so they are cached until {@link #auxChanged()}.
 */
public abstract class KroneckerBlock extends CurvatureBlock {

    /** Name of the in-side factor L (k x k). */
    public static final String L = "L";
    /** Name of the out-side factor R (out x out). */
    public static final String R = "R";
    /** Name of the diagonal rescaling A (out x k). */
    public static final String A = "A";

    private final WeightMatrix layout;
    private final int rows;
    private final int cols;
    private final CurvatureOptions options;
    private final boolean inFactorTransposed;
    private final boolean outFactorDiagonal;
    /** Columns of the padded U that every product works on ({@link WeightMatrix#paddedCols}). */
    private final int width;
    private NDArray cachedM;
    /** N padded with zeros to width x width. */
    private NDArray cachedN;
    /** The cols x cols block of {@link #cachedN} (a view). */
    private NDArray cachedNView;
    /** A padded with zero columns to width (only when padding is needed). */
    private NDArray cachedA;
    /** L padded to width x width (null when not computed yet, or when no padding is needed). */
    private NDArray cachedL;

    /**
     * @param name layer name
     * @param layout how the parameters form U (which also gives their names, in block order)
     * @param parameters suppliers of the live parameter arrays (or empty for a detached block)
     * @param layer the DJL layer, or null
     * @param parent parent manager
     * @param dataType element type
     * @param options full / batchSpeedup
     * @param inFactorTransposed false: N = L Lᵀ (Linear, Embedding); true: N = Lᵀ L (Conv2d)
     * @param outFactorDiagonal false: R is out x out and M = RᵀR; true: R is a vector of length
     *     out (all ones at start) and M = diag(R²) (Embedding)
     */
    protected KroneckerBlock(
            String name,
            WeightMatrix layout,
            List<Supplier<NDArray>> parameters,
            Block layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options,
            boolean inFactorTransposed,
            boolean outFactorDiagonal) {
        super(name, layout.order(), parameters, layer, parent, dataType);
        this.layout = layout;
        this.rows = layout.rows();
        this.cols = layout.cols();
        this.options = options;
        this.inFactorTransposed = inFactorTransposed;
        this.outFactorDiagonal = outFactorDiagonal;
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
     * From this size on, the products of a block-triangular factor (its Gram matrix, and the
     * masked part of its gradient) are assembled from half-size products; below it one plain
     * product is faster. Measured on PyTorch's CPU products (float32): with two threads the split
     * Gram matrix is faster from about 780 (7.6 vs 10.2 ms at 1000) and slower at 512 (2.2 vs
     * 1.6 ms), the split factor gradient faster at 1000 (9.8 vs 10.4 ms) and about even at 800;
     * with one thread both are faster from 512 on.
     */
    public static final int TRIANGULAR_SPLIT_FROM = 640;

    /**
     * FᵀF ({@code transposeFirst}) or FFᵀ of a square factor. When F is block upper triangular,
     * [[F11, F12], [0, F22]] with its lower-left block exactly zero, as the triangular masks keep
     * FishLinear's L and R, the product is assembled from four half-size products, half the
     * arithmetic of the plain one:
     *
     * <pre>
     *   FᵀF = [[F11ᵀF11, F11ᵀF12], [·ᵀ, F12ᵀF12 + F22ᵀF22]]
     *   FFᵀ = [[F11F11ᵀ + F12F12ᵀ, F12F22ᵀ], [·ᵀ, F22F22ᵀ]]
     * </pre>
     *
     * The zero block is tested exactly (its largest magnitude is 0), so any other F gets the plain
     * product.
     *
     * @param f a square factor
     * @param transposeFirst FᵀF rather than FFᵀ
     * @return the product, in f's manager
     */
    private static NDArray gram(NDArray f, boolean transposeFirst) {
        NDManager owner = f.getManager();
        try (Scope s = Scope.open(owner)) {
            s.use(f);
            Split t = Split.of(f);
            if (t == null) {
                NDArray ft = f.transpose();
                return Scope.keep(transposeFirst ? ft.matMul(f) : f.matMul(ft), owner);
            }
            NDArray f11 = t.f11();
            NDArray f12 = t.f12();
            NDArray f22 = t.f22();
            NDArray g11;
            NDArray g12;
            NDArray g22;
            if (transposeFirst) {
                g11 = f11.transpose().matMul(f11);
                g12 = f11.transpose().matMul(f12);
                g22 = f12.transpose().matMul(f12).addi(f22.transpose().matMul(f22));
            } else {
                g11 = f11.matMul(f11.transpose()).addi(f12.matMul(f12.transpose()));
                g12 = f12.matMul(f22.transpose());
                g22 = f22.matMul(f22.transpose());
            }
            return Scope.keep(assemble(g11, g12, g12.transpose(), g22), owner);
        }
    }

    /**
     * The upper triangle (diagonal included) of F S ({@code factorLeft}) or S F, for a square
     * factor F and a symmetric S of the same size: the part of a factor gradient R(∂M + ∂Mᵀ) or
     * (∂N + ∂Nᵀ)L that an upper-triangular gradient mask keeps. When F is block upper triangular
     * (its lower-left block exactly zero, as FishLinear's masks keep L and R), the three blocks
     * of the result that the mask keeps take five half-size products instead of eight:
     *
     * <pre>
     *   F S: [[F11 S11 + F12 S21, F11 S12 + F12 S22], [0, F22 S22]]
     *   S F: [[S11 F11, S11 F12 + S12 F22], [0, S21 F12 + S22 F22]]
     * </pre>
     *
     * and the lower-left block, which the mask removes, is left zero. Any other F gets the plain
     * product.
     *
     * @param f a square factor
     * @param sym a symmetric matrix of the same size
     * @param factorLeft F S rather than S F
     * @return the product (exact on and above the diagonal), in sym's manager
     */
    static NDArray upperOfProduct(NDArray f, NDArray sym, boolean factorLeft) {
        return factorProduct(f, sym, factorLeft, true);
    }

    /**
     * F S or S F for a square factor F and a symmetric S, in S's manager whatever F's (F may be a
     * cached, long-lived array): with {@code upperOnly}, exact only on and above the diagonal
     * ({@link #upperOfProduct}).
     */
    private static NDArray factorProduct(
            NDArray f, NDArray sym, boolean factorLeft, boolean upperOnly) {
        NDManager owner = sym.getManager();
        try (Scope s = Scope.open(owner)) {
            s.use(f);
            s.use(sym);
            Split t = upperOnly ? Split.of(f) : null;
            if (t == null) {
                return Scope.keep(factorLeft ? f.matMul(sym) : sym.matMul(f), owner);
            }
            long n = t.n();
            long h = t.h();
            NDArray f11 = t.f11();
            NDArray f12 = t.f12();
            NDArray f22 = t.f22();
            NDArray s11 = block(sym, 0, h, 0, h);
            NDArray s12 = block(sym, 0, h, h, n);
            NDArray s21 = block(sym, h, n, 0, h);
            NDArray s22 = block(sym, h, n, h, n);
            NDArray top11;
            NDArray top12;
            NDArray bottom22;
            if (factorLeft) {
                top11 = f11.matMul(s11).addi(f12.matMul(s21));
                top12 = f11.matMul(s12).addi(f12.matMul(s22));
                bottom22 = f22.matMul(s22);
            } else {
                top11 = s11.matMul(f11);
                top12 = s11.matMul(f12).addi(s12.matMul(f22));
                bottom22 = s21.matMul(f12).addi(s22.matMul(f22));
            }
            NDArray bottom21 = s.manager().zeros(new Shape(n - h, h), f.getDataType());
            return Scope.keep(assemble(top11, top12, bottom21, bottom22), owner);
        }
    }

    /**
     * The blocks of a square factor F = [[F11, F12], [0, F22]] (rows and columns split at h = n/2)
     * whose lower-left block is exactly zero, when F is large enough for split products to pay
     * ({@link #TRIANGULAR_SPLIT_FROM}); the blocks are views in F's current manager.
     */
    private record Split(long n, long h, NDArray f11, NDArray f12, NDArray f22) {
        /** @return the split of f, or null when f is too small or its lower-left block is not 0 */
        static Split of(NDArray f) {
            long n = f.getShape().get(0);
            long h = n / 2;
            // the zero block is tested exactly: its largest magnitude is 0
            if (n < TRIANGULAR_SPLIT_FROM
                    || Tensors.scalar(block(f, h, n, 0, h).abs().max()) != 0) {
                return null;
            }
            return new Split(n, h,
                    block(f, 0, h, 0, h), block(f, 0, h, h, n), block(f, h, n, h, n));
        }
    }

    /** [[b11, b12], [b21, b22]] from its four blocks. */
    private static NDArray assemble(NDArray b11, NDArray b12, NDArray b21, NDArray b22) {
        return b11.concat(b12, 1).concat(b21.concat(b22, 1), 0);
    }

    /** Rows r0..r1 and columns c0..c1 of a matrix. */
    private static NDArray block(NDArray m, long r0, long r1, long c0, long c1) {
        return m.get(new NDIndex().addSliceDim(r0, r1).addSliceDim(c0, c1));
    }

    /**
     * @param aux an aux tensor's name
     * @return whether its gradient mask keeps exactly the upper triangle (FishLinear's L and R):
     *     then the VJP computes only that part ({@link #upperOfProduct})
     */
    protected boolean hasUpperTriangularMask(String aux) {
        return false;
    }

    /** R(∂M + ∂Mᵀ): the gradient of R through M = RᵀR, given ∂M + ∂Mᵀ (in its manager). */
    final NDArray outFactorGradient(NDArray r, NDArray dmSym) {
        return factorProduct(r, dmSym, true, hasUpperTriangularMask(R));
    }

    /** The gradient of the padded L through N = LLᵀ or LᵀL, given ∂N + ∂Nᵀ (in its manager). */
    final NDArray inFactorGradient(NDArray paddedL, NDArray dnSym) {
        return factorProduct(paddedL, dnSym, inFactorTransposed, hasUpperTriangularMask(L));
    }

    /** @return the padded width of U that the products work on ({@link WeightMatrix#paddedCols}) */
    protected final int width() {
        return width;
    }

    /** @return M = RᵀR, or the vector R² when the out factor is diagonal (cached) */
    protected NDArray outFactor() {
        if (cachedM == null) {
            NDArray r = getR();
            cachedM = outFactorDiagonal ? r.square() : gram(r, true);
            cachedM.attach(manager);
        }
        return cachedM;
    }

    /** M X, for a matrix M or a diagonal M stored as a vector. */
    private NDArray mulOut(NDArray m, NDArray x) {
        return outFactorDiagonal ? x.mul(m.reshape(rows, 1)) : m.matMul(x);
    }

    /** @return N = LLᵀ or LᵀL (cached; a view of the padded factor) */
    protected NDArray inFactor() {
        if (cachedNView == null) {
            NDArray n = paddedInFactor();
            cachedNView = width == cols
                    ? n
                    : n.get(new NDIndex().addSliceDim(0, cols).addSliceDim(0, cols));
            cachedNView.attach(manager);
        }
        return cachedNView;
    }

    /** @return N padded with zero rows and columns to width x width (cached) */
    protected final NDArray paddedInFactor() {
        if (cachedN == null) {
            cachedN = gram(paddedL(), inFactorTransposed);
            cachedN.attach(manager);
        }
        return cachedN;
    }

    /**
     * @return L padded with zeros to width x width (cached: N and the L-gradient both need it; L
     *     itself when no padding is needed)
     */
    protected final NDArray paddedL() {
        if (width == cols) {
            return getL();
        }
        if (cachedL == null) {
            cachedL = getL().pad(new Shape(0, width - cols, 0, width - cols), 0);
            cachedL.attach(manager);
        }
        return cachedL;
    }

    /** @return A padded with zero columns to width (cached; A itself when no padding is needed) */
    private NDArray paddedA() {
        if (width == cols) {
            return getA();
        }
        if (cachedA == null) {
            cachedA = getA().pad(new Shape(0, width - cols), 0);
            cachedA.attach(manager);
        }
        return cachedA;
    }

    @Override
    public void auxChanged() {
        if (cachedNView != null && cachedNView != cachedN) {
            cachedNView.close();
        }
        for (NDArray cached : new NDArray[] {cachedM, cachedN, cachedA, cachedL}) {
            if (cached != null) {
                cached.close();
            }
        }
        cachedM = null;
        cachedN = null;
        cachedNView = null;
        cachedA = null;
        cachedL = null;
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
        return new KroneckerTape(u);
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
                getA().muli(Math.sqrt(initScale));
            } else {
                // A is unused: Q = (s^¼R)ᵀ(s^¼R) ⊗ (s^¼L)(s^¼L)ᵀ = s·I (SPEC 4.1 [FIX]).
                double q = Math.pow(initScale, 0.25);
                getL().muli(q);
                getR().muli(q);
            }
        } else {
            try (Scope s = Scope.open(manager)) {
                s.use(v);
                NDArray d = toMatrix(v);
                if (usesA()) {
                    Tensors.assign(getA(), d);
                } else {
                    nearestKroneckerWarmup(d);
                }
            }
        }
        auxChanged();
    }

    /**
     * Warm-up without A (SPEC 4.2 [FIX]): makes diag(M ⊗ N) ≈ D ⊙ D with diagonal R and L from
     * the leading singular triplet of the positive matrix D ⊙ D.
     */
    private void nearestKroneckerWarmup(NDArray d) {
        double[] p = d.toType(DataType.FLOAT64, true).square().toDoubleArray();
        double[] u = new double[rows];
        double[] w = ones(cols);
        double sigma = 0;
        for (int iter = 0; iter < 500; iter++) {
            normalize(w);
            for (int i = 0; i < rows; i++) {
                double acc = 0;
                for (int j = 0; j < cols; j++) {
                    acc += p[i * cols + j] * w[j];
                }
                u[i] = acc;
            }
            normalize(u);
            double prev = sigma;
            for (int j = 0; j < cols; j++) {
                double acc = 0;
                for (int i = 0; i < rows; i++) {
                    acc += p[i * cols + j] * u[i];
                }
                w[j] = acc;
            }
            sigma = Math.sqrt(sq(w));
            if (Math.abs(sigma - prev) <= 1e-15 * sigma) {
                break;
            }
        }
        normalize(w);
        double root = Math.sqrt(sigma);
        double[] rDiag = new double[outFactorDiagonal ? rows : rows * rows];
        for (int i = 0; i < rows; i++) {
            rDiag[outFactorDiagonal ? i : i * rows + i] = Math.sqrt(root * Math.abs(u[i]));
        }
        double[] lDiag = new double[cols * cols];
        for (int j = 0; j < cols; j++) {
            lDiag[j * cols + j] = Math.sqrt(root * Math.abs(w[j]));
        }
        Shape rShape = outFactorDiagonal ? new Shape(rows) : new Shape(rows, rows);
        try (NDArray r = Tensors.create(manager, rDiag, rShape, dataType);
                NDArray l = Tensors.create(manager, lDiag, new Shape(cols, cols), dataType)) {
            Tensors.assign(getR(), r);
            Tensors.assign(getL(), l);
        }
    }

    private static double sq(double[] x) {
        double s = 0;
        for (double e : x) {
            s += e * e;
        }
        return s;
    }

    private static void normalize(double[] x) {
        double n = Math.sqrt(sq(x));
        if (n > 0) {
            for (int i = 0; i < x.length; i++) {
                x[i] /= n;
            }
        }
    }

    /**
     * Forward pass that remembers U, X = A ⊙ U, M X and Y = (M X) N for the VJP. Every matrix is
     * padded with zero columns to {@link #width}; the padding stays zero throughout and is cut off
     * the results.
     */
    private final class KroneckerTape implements Tape {
        private final Scope scope;
        private final NDManager target;
        private final NDArray u;
        private final NDArray x;
        private final NDArray mx;
        private final NDArray y;
        private final NDList v;

        KroneckerTape(NDList input) {
            target = input.head().getManager();
            scope = Scope.open(target);
            scope.use(outFactor());
            scope.use(paddedInFactor());
            if (usesA()) {
                scope.use(paddedA());
            }
            scope.use(getL());
            scope.use(getR());
            scope.use(input);
            u = toPaddedMatrix(input);
            x = usesA() ? u.mul(paddedA()) : u;
            mx = mulOut(outFactor(), x);
            y = mx.matMul(paddedInFactor());
            NDArray out = usesA() ? y.mul(paddedA()) : y;
            v = fromMatrix(out);
        }

        @Override
        public NDList v() {
            return v;
        }

        @Override
        public Map<String, NDArray> vjp(NDList cotangent) {
            NDArray m = outFactor();
            NDArray n = paddedInFactor();
            scope.use(cotangent);
            NDArray d = toPaddedMatrix(cotangent);
            NDArray da = usesA() ? d.mul(paddedA()) : d;
            Map<String, NDArray> grads = new LinkedHashMap<>();
            // ⟨D, A ⊙ (M X N)⟩ with X = A ⊙ U and P = (D⊙A) N, M and N symmetric:
            //   ∂/∂M = P Xᵀ,  ∂/∂N = (M X)ᵀ (D⊙A),  ∂/∂A = D ⊙ Y + (M P) ⊙ U.
            // For M = RᵀR: ∂/∂R = R (∂M + ∂Mᵀ); for M = diag(r²): ∂/∂r_i = 2 r_i (∂M)_ii.
            // P is shared and M X comes from the forward pass, so the products cost two Qv
            // (one without A) instead of three.
            NDArray p = da.matMul(n);
            NDArray gr;
            if (outFactorDiagonal) {
                NDArray dmDiag = p.mul(x).sum(new int[] {1});
                gr = getR().mul(dmDiag).muli(2);
            } else {
                NDArray dm = p.matMul(x.transpose());
                gr = outFactorGradient(getR(), dm.add(dm.transpose()));
            }
            NDArray dn = mx.transpose().matMul(da);
            NDArray gl = inFactorGradient(paddedL(), dn.add(dn.transpose()));
            if (width != cols) {
                gl = gl.get(new NDIndex().addSliceDim(0, cols).addSliceDim(0, cols));
            }
            grads.put(L, Scope.keep(gl, target));
            grads.put(R, Scope.keep(gr, target));
            if (isTrainable(A)) {
                NDArray ga = d.mul(y).addi(mulOut(m, p).muli(u));
                if (width != cols) {
                    ga = ga.get(new NDIndex().addAllDim().addSliceDim(0, cols));
                }
                grads.put(A, Scope.keep(ga, target));
            }
            return grads;
        }

        @Override
        public void close() {
            scope.close();
        }
    }
}
