package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.fishleg.util.Scope;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tape of a {@link KroneckerBlock}: a forward pass V = A ⊙ (M X N), X = A ⊙ U, that remembers
 * U, X, M X and Y = (M X) N for the vector-Jacobian product. Every matrix is padded with zero
 * columns to the block's working width; the padding stays zero throughout and is cut off the
 * results.
 */
final class KroneckerTape implements CurvatureBlock.Tape {
    private final KroneckerBlock block;
    private final Scope scope;
    private final NDManager target;
    private final NDArray u;
    private final NDArray x;
    private final NDArray mx;
    private final NDArray y;
    private final NDList v;

    KroneckerTape(KroneckerBlock block, NDList input) {
        this.block = block;
        target = input.head().getManager();
        scope = Scope.open(target);
        scope.use(block.outFactor());
        scope.use(block.paddedInFactor());
        if (block.usesA()) {
            scope.use(block.paddedA());
        }
        scope.use(block.getL());
        scope.use(block.getR());
        scope.use(input);
        u = block.toPaddedMatrix(input);
        x = block.usesA() ? u.mul(block.paddedA()) : u;
        mx = block.mulOut(block.outFactor(), x);
        y = mx.matMul(block.paddedInFactor());
        NDArray out = block.usesA() ? y.mul(block.paddedA()) : y;
        v = block.fromMatrix(out);
    }

    @Override
    public NDList v() {
        return v;
    }

    @Override
    public Map<String, NDArray> vjp(NDList cotangent) {
        NDArray m = block.outFactor();
        NDArray n = block.paddedInFactor();
        scope.use(cotangent);
        NDArray d = block.toPaddedMatrix(cotangent);
        NDArray da = block.usesA() ? d.mul(block.paddedA()) : d;
        Map<String, NDArray> grads = new LinkedHashMap<>();
        // ⟨D, A ⊙ (M X N)⟩ with X = A ⊙ U and P = (D⊙A) N, M and N symmetric:
        //   ∂/∂M = P Xᵀ,  ∂/∂N = (M X)ᵀ (D⊙A),  ∂/∂A = D ⊙ Y + (M P) ⊙ U.
        // For M = RᵀR: ∂/∂R = R (∂M + ∂Mᵀ); for M = diag(r²): ∂/∂r_i = 2 r_i (∂M)_ii.
        // P is shared and M X comes from the forward pass, so the products cost two Qv
        // (one without A) instead of three.
        NDArray p = da.matMul(n);
        NDArray gr;
        if (block.isOutFactorDiagonal()) {
            NDArray dmDiag = p.mul(x).sum(new int[] {1});
            gr = block.getR().mul(dmDiag).muli(2);
        } else {
            NDArray dm = p.matMul(x.transpose());
            gr = block.outFactorGradient(block.getR(), dm.add(dm.transpose()));
        }
        NDArray dn = mx.transpose().matMul(da);
        NDArray gl = block.inFactorGradient(block.paddedL(), dn.add(dn.transpose()));
        int cols = block.getCols();
        boolean padded = block.width() != cols;
        if (padded) {
            gl = gl.get(new NDIndex().addSliceDim(0, cols).addSliceDim(0, cols));
        }
        grads.put(KroneckerBlock.L, Scope.keep(gl, target));
        grads.put(KroneckerBlock.R, Scope.keep(gr, target));
        if (block.isTrainable(KroneckerBlock.A)) {
            NDArray ga = d.mul(y).addi(block.mulOut(m, p).muli(u));
            if (padded) {
                ga = ga.get(new NDIndex().addAllDim().addSliceDim(0, cols));
            }
            grads.put(KroneckerBlock.A, Scope.keep(ga, target));
        }
        return grads;
    }

    @Override
    public void close() {
        scope.close();
    }
}
