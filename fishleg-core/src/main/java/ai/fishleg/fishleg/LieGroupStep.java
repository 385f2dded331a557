package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.fishleg.blocks.AuxState;
import ai.fishleg.fishleg.blocks.FactorForm;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.HashMap;
import java.util.Map;

/**
 * The multiplicative auxiliary step of {@link AuxUpdate#LIE_GROUP} (docs/ALGORITHM.md §19): with
 * G the λ-gradient of one tensor X and η the auxiliary learning rate,
 *
 * <pre>
 *   XᵀX in Q (COLUMN_GRAM):  T = triu(G Xᵀ),  X ← X − η·T X / ‖T‖_F
 *   XXᵀ in Q (ROW_GRAM):     T = triu(Xᵀ G),  X ← X − η·X T / ‖T‖_F
 *   entrywise (ENTRYWISE):   H = X ⊙ G,       X ← X − η·X ⊙ H / max|H|
 * </pre>
 *
 * To first order each step changes the auxiliary loss by −η‖T‖_F (or −η‖H‖²/max|H|), keeps an
 * upper-triangular X upper triangular, and changes X by at most the fraction η of its size (in
 * the spectral norm, which ‖T‖_F and max|H| bound), so it needs no inversion, keeps the sign of
 * X's diagonal for η &lt; 1, and moves large and small factors at the same relative pace. A
 * tensor whose T (or H) is 0 is left alone.
 */
final class LieGroupStep implements AutoCloseable {

    private final NDManager manager;
    /** Upper-triangular 0/1 masks by size and element type. */
    private final Map<String, NDArray> masks = new HashMap<>();

    /** @param parent manager under which the masks live */
    LieGroupStep(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /**
     * One step on one tensor of a block's λ, written through the block's state (which drops the
     * products cached from λ). With η = 0 nothing is written.
     *
     * @param state the block's λ
     * @param name the tensor's name
     * @param form how the tensor enters Q
     * @param grad its gradient (masked to the upper triangle where the block masks; for an upper
     *     triangular X only that part enters T)
     * @param lr η
     */
    void step(AuxState state, String name, FactorForm form, NDArray grad, double lr) {
        if (lr == 0) {
            return;
        }
        NDArray x = state.get(name);
        try (Scope scope = Scope.open(grad.getManager())) {
            scope.use(x);
            scope.use(grad);
            NDArray delta;
            double norm;
            if (form == FactorForm.ENTRYWISE) {
                NDArray h = x.mul(grad);
                norm = Tensors.scalar(h.abs().max());
                delta = x.mul(h);
            } else {
                boolean column = form == FactorForm.COLUMN_GRAM;
                NDArray t = (column ? grad.matMul(x.transpose()) : x.transpose().matMul(grad))
                        .muli(scope.use(upperMask(x)));
                norm = Math.sqrt(Tensors.squaredNorm(t));
                delta = column ? t.matMul(x) : x.matMul(t);
            }
            if (!(norm > 0) || !Double.isFinite(norm)) {
                return; // no descent direction (or a non-finite one): X stays
            }
            state.subtract(name, delta.muli(lr / norm));
        }
    }

    private NDArray upperMask(NDArray x) {
        long n = x.getShape().get(0);
        DataType type = x.getDataType();
        return masks.computeIfAbsent(n + "/" + type,
                k -> Tensors.upperTriangularMask(manager, Math.toIntExact(n), type));
    }

    @Override
    public void close() {
        manager.close();
    }
}
