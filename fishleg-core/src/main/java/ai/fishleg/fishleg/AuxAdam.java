package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fishleg.fishleg.blocks.AuxState;
import ai.fishleg.util.Scope;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Adam over the auxiliary tensors λ, with PyTorch's exact semantics (no weight decay, no amsgrad):
 *
 * <pre>
 *   t ← t + 1;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
 *   λ ← λ − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε)
 * </pre>
 *
 * Each tensor keeps its own step count; a tensor that gets no gradient in a step is left
 * untouched, state included.
 */
public final class AuxAdam implements AutoCloseable {

    private final double beta1;
    private final double beta2;
    private final double eps;
    private final NDManager manager;
    private final Map<NDArray, State> states = new IdentityHashMap<>();

    /** Moments and step count of one tensor. */
    static final class State {
        final NDArray m;
        final NDArray v;
        long step;

        State(NDArray m, NDArray v) {
            this.m = m;
            this.v = v;
        }
    }

    /**
     * @param beta1 first-moment decay
     * @param beta2 second-moment decay
     * @param eps denominator term
     * @param parent manager for the moments
     */
    public AuxAdam(double beta1, double beta2, double eps, NDManager parent) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.manager = parent.newSubManager();
    }

    /**
     * One step on one tensor of a block's λ, written through the block's state (which drops the
     * products cached from λ). With a learning rate of 0 only the moments move: λ − 0·step is λ,
     * so λ is not written and the cached products stay valid.
     *
     * @param state the block's λ
     * @param name the tensor's name
     * @param grad its gradient, used as scratch space
     * @param lr learning rate of this step
     */
    public void step(AuxState state, String name, NDArray grad, double lr) {
        update(state.get(name), grad, lr, delta -> {
            if (lr != 0) {
                state.subtract(name, delta);
            }
        });
    }

    private void update(NDArray param, NDArray g, double lr, Consumer<NDArray> subtract) {
        State s = states.computeIfAbsent(param, this::newState);
        s.step++;
        try (Scope scope = Scope.open(g.getManager())) {
            scope.use(s.m);
            scope.use(s.v);
            scope.use(param);
            // The same operations as PyTorch's Adam, in place on temporaries where possible
            // (λ has millions of entries: every avoided allocation is a pass saved).
            s.v.muli(beta2).addi(g.square().muli(1 - beta2));
            s.m.muli(beta1).addi(g.muli(1 - beta1)); // g is scratch from here on
            double bc1 = 1 - Math.pow(beta1, s.step);
            double bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, s.step));
            // (lr/bc1)·m / (√v/c + ε) = (lr·c/bc1)·m / (√v + c·ε) with c = √bc2: the
            // same update, one pass over λ fewer.
            NDArray denom = s.v.sqrt().addi(eps * bc2Sqrt);
            subtract.accept(s.m.div(denom).muli(lr * bc2Sqrt / bc1));
        }
    }

    /** Sets every moment and step count to zero, as before the first step (λ is not touched). */
    public void reset() {
        for (State s : states.values()) {
            s.m.muli(0);
            s.v.muli(0);
            s.step = 0;
        }
    }

    /**
     * Creates the (zero) state of a tensor now rather than at its first step, so that the set of
     * states does not depend on how far training went (checkpoints rely on it).
     *
     * @param param an aux tensor
     */
    public void register(NDArray param) {
        states.computeIfAbsent(param, this::newState);
    }

    private State newState(NDArray param) {
        NDArray m = param.zerosLike();
        NDArray v = param.zerosLike();
        m.attach(manager);
        v.attach(manager);
        return new State(m, v);
    }

    /**
     * @param param an aux tensor
     * @return its step count (0 before its first step)
     */
    public long stepCount(NDArray param) {
        State s = states.get(param);
        return s == null ? 0 : s.step;
    }

    /** @return the state by tensor (for checkpoints and tests) */
    Map<NDArray, State> states() {
        return states;
    }

    @Override
    public void close() {
        manager.close();
    }
}
