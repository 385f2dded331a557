package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.ModelGradients;
import ai.fishleg.core.ModelState;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * FishLeg's access to the model: the gradients the user's backward pass left, and FishLeg's own
 * passes (sampled labels, sampled-label gradients, warm-up and pre-training gradients), which
 * leave the model's gradients, running statistics and batchSpeedup records as they were.
 */
final class ModelPasses {

    private final Block model;
    private final DrawFunction draw;
    private final NllFunction nll;
    private final ModelGradients gradients;
    private final ModelState state;
    private final BatchSpeedup speedup;

    /**
     * @param model the model
     * @param draw samples labels from the model
     * @param nll the training loss, whose sampled-label gradients estimate the Fisher
     * @param likelihood the likelihood (its learnable parameters get gradients too), or null
     * @param speedup pauses batchSpeedup's recording during FishLeg's passes
     * @param manager the optimizer's manager
     */
    ModelPasses(Block model, DrawFunction draw, NllFunction nll, FishLikelihood likelihood,
            BatchSpeedup speedup, NDManager manager) {
        this.model = model;
        this.draw = draw;
        this.nll = nll;
        this.speedup = speedup;
        this.state = new ModelState(model);
        List<NDArray> trainable = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient()) {
                trainable.add(p.getValue().getArray());
            }
        }
        if (likelihood != null) {
            trainable.addAll(likelihood.getParameters());
        }
        this.gradients = new ModelGradients(model, trainable, manager);
    }

    /**
     * Sets every gradient to zero and forgets the recorded passes.
     *
     * @param scope owns the temporaries
     */
    void zeroGradients(Scope scope) {
        gradients.zero(scope);
        speedup.clearRecords();
    }

    /**
     * @param blocks the managed blocks
     * @param scope owns the arrays
     * @return the gradient of every managed parameter, per block
     * @throws IllegalStateException if a managed parameter has no gradient (is frozen)
     */
    NDList[] currentGradients(List<BlockState> blocks, Scope scope) {
        NDList[] out = new NDList[blocks.size()];
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            NDList list = new NDList();
            List<NDArray> params = g.block().getParameterArrays();
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i);
                if (!p.hasGradient()) {
                    throw new IllegalStateException(
                            "parameter " + g.block().getOrder().get(i) + " of layer "
                                    + g.displayName() + " has no gradient attached"
                                    + " (is it frozen?); FishLeg needs its gradient");
                }
                list.add(scope.own(p.getGradient()));
            }
            out[gi] = list;
        }
        return out;
    }

    /**
     * Fails when no backward pass has produced a gradient yet. DJL hands out a fresh zero array
     * for a parameter that has no gradient yet, so an all-zero gradient is probed: a real one
     * keeps a value written into it.
     *
     * @param grads the current gradients
     * @param block a managed block, whose first parameter is probed
     * @param scope owns the temporaries
     */
    static void requireGradients(NDList[] grads, CurvatureBlock block, Scope scope) {
        for (NDList list : grads) {
            for (NDArray g : list) {
                if (Tensors.squaredNorm(g) != 0) {
                    return;
                }
            }
        }
        NDArray probe = block.getParameterArrays().get(0);
        NDArray first = scope.own(probe.getGradient());
        first.set(new NDIndex("..."), 1);
        NDArray again = scope.own(probe.getGradient());
        boolean exists = Tensors.squaredNorm(again) != 0;
        Tensors.zero(first);
        if (!exists) {
            throw new IllegalStateException(
                    "step() was called before any gradient was computed: run a backward pass"
                            + " (GradientCollector.backward(loss)) on the model's loss first");
        }
    }

    /** What {@link #isolate} saved; closing puts it back. */
    interface Isolation extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Saves what FishLeg's own passes change: the running statistics and, if asked, the
     * gradients; pauses batchSpeedup's recording.
     *
     * @param scope owns the copies
     * @param withGradients also save (and restore) the gradients
     * @return closing it restores everything
     */
    Isolation isolate(Scope scope, boolean withGradients) {
        ModelState.Saved savedState = state.save(scope);
        BatchSpeedup.Paused paused = speedup.pauseRecording();
        ModelGradients.Saved savedGradients = withGradients ? gradients.save(scope) : null;
        return () -> {
            try {
                if (savedGradients != null) {
                    savedGradients.close();
                }
            } finally {
                try {
                    paused.close();
                } finally {
                    savedState.close();
                }
            }
        };
    }

    /**
     * @param batch an auxiliary batch
     * @param labels draw the labels from the model or keep the batch's
     * @return the batch with the labels the Fisher is estimated with
     */
    LabeledBatch samples(LabeledBatch batch, FisherLabels labels) {
        return labels == FisherLabels.DRAWN ? draw.draw(model, batch.data()) : batch;
    }

    /**
     * Zeroes every gradient, then backpropagates {@code loss(model, batch)} (inside an
     * {@link #isolate isolation} that saved the gradients).
     *
     * @param loss the loss
     * @param batch its batch
     * @param scope owns the temporaries
     */
    void backward(NllFunction loss, LabeledBatch batch, Scope scope) {
        gradients.backward(loss, batch, scope);
    }

    /**
     * @param param a managed parameter
     * @param scope owns the view
     * @return its live gradient
     */
    static NDArray gradientOf(NDArray param, Scope scope) {
        return ModelGradients.of(param, scope);
    }

    /**
     * The gradient of the nll on {@code samples} with respect to every managed parameter, computed
     * without disturbing the gradients the model already holds (they are saved and restored), so
     * unmanaged parameters see no leaked gradients.
     *
     * @param samples the batch with sampled labels
     * @param blocks the managed blocks
     * @param scope owns the copies
     * @return per block, one array per parameter
     */
    List<NDList> sampledGradients(LabeledBatch samples, List<BlockState> blocks, Scope scope) {
        List<NDList> out = new ArrayList<>();
        try (ModelGradients.Saved saved = gradients.save(scope)) {
            gradients.backward(nll, samples, scope);
            for (BlockState g : blocks) {
                out.add(ModelGradients.copies(g.block().getParameterArrays(), scope));
            }
        }
        return out;
    }
}
