package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.List;
import java.util.Map;

/**
 * The curvature block of a likelihood's learnable parameters (docs/ALGORITHM.md §5.7): Q = λ²·I with one
 * auxiliary scalar λ, initialised to √s so that Q0 = s·I like every other block ([FIX]: the
 * reference initialises λ = s, which gives s²).
 */
public final class ScalarScaleBlock extends CurvatureBlock {

    /** Name of the auxiliary scalar. */
    public static final String LAMBDA = "lambda";

    /**
     * @param name block name (the optimizer uses {@code "likelihood"})
     * @param order parameter names
     * @param parameters the live parameter arrays (kept for the optimizer's lifetime)
     * @param parent manager under which λ lives
     */
    public ScalarScaleBlock(
            String name, List<String> order, List<NDArray> parameters, NDManager parent) {
        super(name, order, suppliers(parameters), null, parent, parameters.get(0).getDataType());
        addAux(LAMBDA, Tensors.create(manager, new double[] {1}, new Shape(), dataType));
    }

    private static List<java.util.function.Supplier<NDArray>> suppliers(List<NDArray> arrays) {
        List<java.util.function.Supplier<NDArray>> out = new java.util.ArrayList<>();
        for (NDArray a : arrays) {
            out.add(() -> a);
        }
        return out;
    }

    /** @return λ */
    public NDArray getLambda() {
        return aux(LAMBDA);
    }

    @Override
    public NDList qv(NDList v) {
        NDManager target = v.head().getManager();
        try (Scope s = Scope.open(target)) {
            s.use(v);
            NDArray lam2 = s.use(getLambda()).square();
            NDList out = new NDList(v.size());
            for (NDArray x : v) {
                out.add(x.mul(lam2));
            }
            return Scope.keep(out, target);
        }
    }

    @Override
    public Tape qvTape(NDList u) {
        return tape(qv(u), cotangent -> {
            // d⟨D, λ² u⟩/dλ = 2 λ ⟨D, u⟩
            double g = 2 * Tensors.scalar(getLambda()) * Tensors.dot(cotangent, u);
            NDArray grad =
                    Tensors.create(u.head().getManager(), new double[] {g}, new Shape(), dataType);
            return Map.of(LAMBDA, grad);
        });
    }

    @Override
    public NDList diagQ() {
        NDList out = new NDList();
        double lam2 = Math.pow(Tensors.scalar(getLambda()), 2);
        for (NDArray p : getParameterArrays()) {
            NDArray d = manager.full(p.getShape(), (float) lam2, dataType);
            out.add(d);
        }
        return out;
    }

    @Override
    public void warmup(NDList v, double initScale) {
        // Q0 = s·I; a diagonal warm-up is not applied to likelihood parameters (docs/ALGORITHM.md §6.1).
        try (NDArray init =
                Tensors.create(manager, new double[] {Math.sqrt(initScale)}, new Shape(), dataType)) {
            state().assign(LAMBDA, init);
        }
    }
}
