package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * The part of a model that forward passes change in place although nothing trains it: the running
 * mean and variance of {@code BatchNorm} layers, and any other parameter that requires no gradient
 * and is not a weight, bias, scale or shift (a user block's buffers).
 *
 * <p>FishLeg's auxiliary passes (sampling labels, sampled-label gradients, antithetic passes,
 * warm-up and pre-training gradients) run the model in training mode, as the reference does, so
 * that the curvature is that of the training-mode function. Each such pass {@linkplain #save
 * saves} this state first and puts it back when done, so it follows the user's training batches
 * only (the reference lets auxiliary batches move it, docs/ALGORITHM.md §5.5, §17.13).
 */
public final class ModelState {

    private static final Set<Parameter.Type> TRAINED_TYPES =
            EnumSet.of(Parameter.Type.WEIGHT, Parameter.Type.BIAS, Parameter.Type.GAMMA,
                    Parameter.Type.BETA);

    private final List<Parameter> state = new ArrayList<>();

    /** @param model the model whose state to guard */
    public ModelState(Block model) {
        for (Pair<String, Parameter> p : model.getParameters()) {
            Parameter param = p.getValue();
            if (!param.requiresGradient() && !TRAINED_TYPES.contains(param.getType())) {
                state.add(param);
            }
        }
    }

    /** @return the number of guarded parameters */
    public int size() {
        return state.size();
    }

    /**
     * Copies the current state into the scope.
     *
     * @param scope owns the copies
     * @return closing it writes the copies back
     */
    public Saved save(Scope scope) {
        List<NDArray> live = new ArrayList<>(state.size());
        List<NDArray> copies = new ArrayList<>(state.size());
        for (Parameter p : state) {
            NDArray a = p.getArray();
            live.add(a);
            copies.add(scope.own(a.duplicate()));
        }
        return new Saved(live, copies);
    }

    /** A saved state; {@link #close()} restores it. */
    public static final class Saved implements AutoCloseable {
        private final List<NDArray> live;
        private final List<NDArray> copies;

        private Saved(List<NDArray> live, List<NDArray> copies) {
            this.live = live;
            this.copies = copies;
        }

        /** Writes the saved values back into the model. */
        @Override
        public void close() {
            for (int i = 0; i < live.size(); i++) {
                Tensors.assign(live.get(i), copies.get(i));
            }
        }
    }
}
