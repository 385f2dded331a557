package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * A diagonal curvature block (docs/ALGORITHM.md §5.5), the structure of {@link FishNormalization}: every
 * parameter p gets an auxiliary tensor L_p of its own shape, and
 *
 * <pre>
 *   Q v = (L_p² ⊙ v_p)  for each parameter p,       diag(Q) = L_p²,
 * </pre>
 *
 * symmetric positive semi-definite for every λ. L_p is named {@code "L_" + p} (for example {@code
 * L_gamma}) and starts at ones; {@link #warmup} makes Q0 = s·I (L ← √s·L) or, with a diagonal
 * warm-up d, L ← d so that diag(Q0) = d² = s²/(g² + γ) as for the Kronecker blocks (the
 * reference leaves normalisation layers at s·I there; docs/ALGORITHM.md §6.2). No masks.
 *
 * <p>The block covers the layer's trainable parameters only, so a normalisation layer without
 * scale (or without centre) has a block over the other parameter alone.
 */
public abstract class DiagonalBlock extends CurvatureBlock {

    /** Prefix of the auxiliary tensor names: {@code "L_" + parameter name}. */
    public static final String AUX_PREFIX = "L_";

    private final List<String> auxNames;

    /**
     * @param name the layer's dotted name
     * @param layer the layer
     * @param parameters its trainable parameters, in block order
     * @param parent manager under which the block's tensors live
     */
    protected DiagonalBlock(
            String name, Block layer, List<Parameter> parameters, NDManager parent) {
        super(
                name,
                parameters.stream().map(Parameter::getName).toList(),
                suppliers(parameters),
                layer,
                parent,
                parameters.get(0).getArray().getDataType());
        List<String> names = new ArrayList<>();
        for (Parameter p : parameters) {
            String auxName = AUX_PREFIX + p.getName();
            addAux(auxName, p.getArray().onesLike());
            names.add(auxName);
        }
        this.auxNames = List.copyOf(names);
    }

    private static List<Supplier<NDArray>> suppliers(List<Parameter> parameters) {
        List<Supplier<NDArray>> out = new ArrayList<>();
        for (Parameter p : parameters) {
            out.add(p::getArray);
        }
        return out;
    }

    /** @return the aux tensor names, in block order (one per parameter) */
    public List<String> getAuxNames() {
        return auxNames;
    }

    /**
     * @param i index of a parameter in block order
     * @return its live factor L_p
     */
    public NDArray getFactor(int i) {
        return aux(auxNames.get(i));
    }

    @Override
    public NDList qv(NDList v) {
        NDManager target = v.head().getManager();
        try (Scope s = Scope.open(target)) {
            s.use(v);
            NDList out = new NDList(v.size());
            for (int i = 0; i < v.size(); i++) {
                out.add(v.get(i).mul(s.use(getFactor(i)).square()));
            }
            return Scope.keep(out, target);
        }
    }

    @Override
    public Tape qvTape(NDList u) {
        return tape(qv(u), cotangent -> {
            // d⟨D, L² ⊙ u⟩/dL = 2 L ⊙ D ⊙ u
            NDManager target = u.head().getManager();
            Map<String, NDArray> grads = new LinkedHashMap<>();
            try (Scope s = Scope.open(target)) {
                s.use(u);
                s.use(cotangent);
                for (int i = 0; i < u.size(); i++) {
                    NDArray g = cotangent.get(i).mul(u.get(i)).mul(s.use(getFactor(i))).muli(2);
                    grads.put(auxNames.get(i), Scope.keep(g, target));
                }
            }
            return grads;
        });
    }

    @Override
    public NDList diagQ() {
        NDList out = new NDList(auxNames.size());
        for (int i = 0; i < auxNames.size(); i++) {
            out.add(getFactor(i).square());
        }
        return out;
    }

    @Override
    public void warmup(NDList v, double initScale) {
        for (int i = 0; i < auxNames.size(); i++) {
            if (v == null) {
                state().scale(auxNames.get(i), Math.sqrt(initScale));
            } else {
                state().assign(auxNames.get(i), v.get(i)); // Q = L², so diag(Q0) = d²
            }
        }
    }
}
