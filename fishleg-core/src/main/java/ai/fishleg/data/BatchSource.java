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
}
