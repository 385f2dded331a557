package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.List;

/**
 * The gradients of every trainable array of a model (and of learnable likelihood parameters).
 *
 * <p>DJL keeps one gradient per array and accumulates into it. FishLeg's own backward passes
 * (sampled labels, warm-up, pre-training) therefore run between a {@link #save} and its restore,
 * so that the gradients the user's backward pass left, including those of parameters FishLeg does
 * not manage, are exactly as they were afterwards.
 */
public final class ModelGradients {

    private final Block model;
    private final List<NDArray> trainable;
    private final NDManager manager;

    /**
     * @param model the model
     * @param trainable every array whose gradient a backward pass may write
     * @param manager gives the engine whose gradient collector is used
     */
    public ModelGradients(Block model, List<NDArray> trainable, NDManager manager) {
        this.model = model;
        this.trainable = List.copyOf(trainable);
        this.manager = manager;
    }

    /**
     * @param array a trainable array
     * @param scope owns the returned view
     * @return the array's live gradient (writing it writes the gradient)
     */
    public static NDArray of(NDArray array, Scope scope) {
        return scope.own(array.getGradient());
    }

    /** Sets every gradient to zero (NaN included). */
    public void zero(Scope scope) {
        for (NDArray p : trainable) {
            Tensors.zero(of(p, scope));
        }
    }

    /**
     * Copies every gradient into the scope.
     *
     * @param scope owns the copies
     * @return closing it writes the copies back
     */
    public Saved save(Scope scope) {
        return new Saved(copies(trainable, scope), scope);
    }

    /**
     * Zeroes every gradient, then backpropagates {@code loss(model, batch)}.
     *
     * @param loss the loss
     * @param batch its batch
     * @param scope owns the temporaries
     */
    public void backward(NllFunction loss, LabeledBatch batch, Scope scope) {
        zero(scope);
        try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
            gc.backward(loss.nll(model, batch));
        }
    }

    /**
     * Copies of the current gradients of some arrays.
     *
     * @param params the arrays
     * @param scope owns the copies
     * @return one copy per array
     */
    public static NDList copies(List<NDArray> params, Scope scope) {
        NDList out = new NDList(params.size());
        for (NDArray p : params) {
            out.add(scope.own(of(p, scope).duplicate()));
        }
        return out;
    }

    /** Gradients saved by {@link #save}; {@link #close()} restores them. */
    public final class Saved implements AutoCloseable {
        private final NDList copies;
        private final Scope scope;

        private Saved(NDList copies, Scope scope) {
            this.copies = copies;
            this.scope = scope;
        }

        @Override
        public void close() {
            for (int i = 0; i < trainable.size(); i++) {
                Tensors.assign(of(trainable.get(i), scope), copies.get(i));
            }
        }
    }
}
