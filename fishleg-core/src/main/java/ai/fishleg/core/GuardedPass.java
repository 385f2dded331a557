package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import java.util.List;

/**
 * A backward pass that an optimizer runs for itself (for example with labels sampled from the
 * model) and that leaves the model as the user's pass left it: opening it saves the gradients of
 * every trainable array and the model's running statistics; closing it writes both back. This is
 * the mechanism FishLeg uses around its own passes ({@link ModelGradients}, {@link ModelState}),
 * offered to optimizers outside this package (K-FAC).
 */
public final class GuardedPass implements AutoCloseable {

    private final ModelGradients gradients;
    private final Scope scope;
    private final ModelState.Saved state;
    private final ModelGradients.Saved saved;

    private GuardedPass(Block model, List<NDArray> trainable, Scope scope) {
        this.gradients = new ModelGradients(model, trainable, scope.manager());
        this.scope = scope;
        this.state = new ModelState(model).save(scope);
        this.saved = gradients.save(scope);
    }

    /**
     * Saves the gradients and the running statistics.
     *
     * @param model the model
     * @param trainable every array whose gradient a backward pass may write
     * @param scope owns the saved copies and the pass's temporaries
     * @return the pass; close it to restore
     */
    public static GuardedPass open(Block model, List<NDArray> trainable, Scope scope) {
        return new GuardedPass(model, trainable, scope);
    }

    /**
     * Zeroes every gradient, then backpropagates {@code loss(model, batch)}.
     *
     * @param loss the loss
     * @param batch its batch
     */
    public void backward(NllFunction loss, LabeledBatch batch) {
        gradients.backward(loss, batch, scope);
    }

    /**
     * Sets the gradients of some arrays to zero.
     *
     * @param trainable the arrays
     * @param scope owns the temporary gradient views
     */
    public static void zeroGradients(List<NDArray> trainable, Scope scope) {
        for (NDArray p : trainable) {
            ai.fishleg.util.Tensors.zero(ModelGradients.of(p, scope));
        }
    }

    /** Writes the saved gradients and running statistics back. */
    @Override
    public void close() {
        saved.close();
        state.close();
    }
}
