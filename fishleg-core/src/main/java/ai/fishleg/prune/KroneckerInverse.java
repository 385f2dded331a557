package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * One layer's inverse Fisher in Kronecker form, acting on vec_r(U) (U out x k):
 *
 * <pre>
 *   F⁻¹ vec_r(X) = vec_r( S ⊙ (M (S ⊙ X) N) ),   i.e. F⁻¹ = D_S (M ⊗ N) D_S
 * </pre>
 *
 * FishLeg's Q(λ) has this form (S = A, docs/ALGORITHM.md §5.1), K-FAC's damped inverse too (M =
 * (G + √γ/π I)⁻¹, N = (A + π√γ I)⁻¹, S = 1), and the identity (M = I, N = I: magnitude pruning).
 * Within one row i of U the inverse is M_ii · D_{s_i} N D_{s_i}, which makes removing several
 * weights of one row solvable exactly ({@link Compensation#ROW_EXACT}). Arrays in float64.
 *
 * @param out M (out x out)
 * @param in N (k x k)
 * @param scale S (out x k), or an empty array (shape (0)) for S = 1
 */
record KroneckerInverse(NDArray out, NDArray in, NDArray scale) {

    KroneckerInverse {
        long o = out.getShape().get(0);
        long k = in.getShape().get(0);
        if (!out.getShape().equals(new Shape(o, o)) || !in.getShape().equals(new Shape(k, k))
                || (scale.size() > 0 && !scale.getShape().equals(new Shape(o, k)))) {
            throw new IllegalArgumentException("Kronecker inverse: factors of shapes "
                    + out.getShape() + ", " + in.getShape() + " and rescaling " + scale.getShape()
                    + " do not fit together");
        }
    }

    /** @return whether S takes part */
    boolean scaled() {
        return scale.size() > 0;
    }

    /** @return rows of U */
    int rows() {
        return Math.toIntExact(out.getShape().get(0));
    }

    /** @return columns of U */
    int cols() {
        return Math.toIntExact(in.getShape().get(0));
    }

    /** @return the diagonal of F⁻¹ shaped as U: S² ⊙ diag(M) diag(N)ᵀ (in M's manager) */
    NDArray diagonal() {
        NDArray d = out.diagonal().reshape(rows(), 1).mul(in.diagonal().reshape(1, cols()));
        return scaled() ? d.mul(scale.square()) : d;
    }

    /**
     * @param x shaped as U
     * @return F⁻¹ x, shaped as U (in x's manager)
     */
    NDArray apply(NDArray x) {
        NDArray sx = scaled() ? x.mul(scale) : x;
        NDArray y = out.matMul(sx).matMul(in);
        return scaled() ? y.mul(scale) : y;
    }

    /**
     * The block of F⁻¹ between the given entries of one row: M_ii (s_J s_Jᵀ) ⊙ N_JJ.
     *
     * @param row i
     * @param columns J, as an int64 array
     * @return |J| x |J| (in the columns' manager)
     */
    NDArray rowBlock(int row, NDArray columns) {
        NDIndex pick = new NDIndex("{}", columns);
        NDArray block = in.get(pick).get(new NDIndex(":, {}", columns));
        double m = out.getDouble(row, row);
        if (scaled()) {
            NDArray s = scale.get(row).get(pick);
            block = block.mul(s.reshape(-1, 1)).mul(s.reshape(1, -1));
        }
        return block.mul(m);
    }

    /**
     * @param manager where to create it
     * @param rows out
     * @param cols k
     * @return the identity on U (magnitude pruning)
     */
    static KroneckerInverse identity(NDManager manager, int rows, int cols) {
        return new KroneckerInverse(manager.eye(rows, rows, 0, ai.djl.ndarray.types.DataType.FLOAT64),
                manager.eye(cols, cols, 0, ai.djl.ndarray.types.DataType.FLOAT64),
                manager.zeros(new Shape(0), ai.djl.ndarray.types.DataType.FLOAT64));
    }
}
