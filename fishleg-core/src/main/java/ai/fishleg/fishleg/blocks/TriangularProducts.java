package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;

/**
 * The products of a square factor F of a Kronecker block that the block-triangular structure of
 * FishLinear's L and R makes cheaper: the Gram matrix FᵀF or FFᵀ, and the upper triangle of a
 * factor gradient F S or S F. When F is large ({@link KroneckerBlock#TRIANGULAR_SPLIT_FROM}) and
 * block upper triangular, [[F11, F12], [0, F22]] with its lower-left block exactly zero, they are
 * assembled from half-size products; otherwise one plain product is used. Each product also
 * reports its FLOPs, so that the count and the choice cannot drift apart.
 */
final class TriangularProducts {

    private TriangularProducts() {}

    /**
     * @param n the side of a factor
     * @return whether a block-triangular factor of that side gets the split products
     */
    static boolean splits(long n) {
        return n >= KroneckerBlock.TRIANGULAR_SPLIT_FROM;
    }

    /**
     * FᵀF ({@code transposeFirst}) or FFᵀ of a square factor, from four half-size products (half
     * the arithmetic of the plain one) when F is block upper triangular:
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
    static NDArray gram(NDArray f, boolean transposeFirst) {
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
     * @param n the side of the factor counted (without padding)
     * @param side the side of the factor multiplied (with padding), which decides the split
     * @param triangular whether the factor is kept (block) triangular
     * @return the FLOPs of {@link #gram}: n³ split or 2n³ plain; necessary n³/3 for a triangular F
     */
    static FlopCount gramFlops(double n, long side, boolean triangular) {
        double cube = n * n * n;
        double executed = triangular && splits(side) ? cube : 2 * cube;
        return new FlopCount(executed, triangular ? cube / 3 : executed);
    }

    /**
     * The upper triangle (diagonal included) of F S ({@code factorLeft}) or S F, for a square
     * factor F and a symmetric S of the same size: the part of a factor gradient R(∂M + ∂Mᵀ) or
     * (∂N + ∂Nᵀ)L that an upper-triangular gradient mask keeps. When F is block upper triangular
     * the three blocks of the result that the mask keeps take five half-size products instead of
     * eight:
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
    static NDArray factorProduct(NDArray f, NDArray sym, boolean factorLeft, boolean upperOnly) {
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
     * @param n the side of F and S counted (without padding)
     * @param side the side multiplied (with padding), which decides the split
     * @param upperOnly whether F is kept triangular and only the upper triangle is kept
     * @return the FLOPs of {@link #factorProduct}: 1.25n³ split or 2n³ plain; necessary 2n³/3
     *     for the upper triangle of a triangular F times a full S
     */
    static FlopCount factorProductFlops(double n, long side, boolean upperOnly) {
        double cube = n * n * n;
        double executed = upperOnly && splits(side) ? 1.25 * cube : 2 * cube;
        return new FlopCount(executed, upperOnly ? 2 * cube / 3 : executed);
    }

    /**
     * The blocks of a square factor F = [[F11, F12], [0, F22]] (rows and columns split at h = n/2)
     * whose lower-left block is exactly zero, when F is large enough for split products to pay
     * ({@link #splits}); the blocks are views in F's current manager.
     */
    private record Split(long n, long h, NDArray f11, NDArray f12, NDArray f22) {
        /** @return the split of f, or null when f is too small or its lower-left block is not 0 */
        static Split of(NDArray f) {
            long n = f.getShape().get(0);
            long h = n / 2;
            // the zero block is tested exactly: its largest magnitude is 0
            if (!splits(n) || Tensors.scalar(block(f, h, n, 0, h).abs().max()) != 0) {
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
}
