package ai.fishleg.data;

import ai.djl.ndarray.NDManager;

/**
 * A source of minibatches that hands out one batch per call: FishLeg asks for one fresh random
 * batch for every auxiliary update (the reference's {@code next(iter(aux_dataloader))}).
 *
 * <p>The arrays of the returned batch must be attached to {@code manager}; the caller closes that
 * manager when it no longer needs the batch, so nothing accumulates over a long run. See {@link
 * BatchSources} for ready-made sources over arrays and DJL datasets.
 */
@FunctionalInterface
public interface BatchSource {

    /**
     * Returns the next batch.
     *
     * @param manager the manager that must own the returned arrays
     * @return a non-empty batch
     */
    LabeledBatch next(NDManager manager);

    /**
     * {@link #next}, checked: how the optimizers ask for a batch, so that a source that runs dry
     * or hands out an empty batch is named at once.
     *
     * @param manager the manager that must own the returned arrays
     * @param role what the batches are for ("auxiliary", "curvature", ...), for the message
     * @return a non-empty batch
     * @throws IllegalStateException if the source returned null or an empty batch
     */
    default LabeledBatch nextNonEmpty(NDManager manager, String role) {
        LabeledBatch batch = next(manager);
        if (batch == null || batch.size() == 0) {
            throw new IllegalStateException("the " + role + " data source returned "
                    + (batch == null ? "null" : "an empty batch")
                    + "; it must hand out a non-empty batch on every call");
        }
        return batch;
    }
}
