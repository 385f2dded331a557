package ai.fishleg.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.dataset.Batch;
import java.util.Objects;

/**
 * A minibatch: the model inputs and the targets, each an {@link NDList} whose arrays have the
 * batch on their first axis. This is the {@code (X, y)} pair of the reference FishLeg.
 *
 * @param data the model inputs
 * @param labels the targets (observed, or sampled by a {@link ai.fishleg.likelihood.DrawFunction})
 */
public record LabeledBatch(NDList data, NDList labels) {

    /** Checks the components. */
    public LabeledBatch {
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(labels, "labels");
    }

    /**
     * @param x the single input array
     * @param y the single target array
     * @return the batch (x, y)
     */
    public static LabeledBatch of(NDArray x, NDArray y) {
        return new LabeledBatch(new NDList(x), new NDList(y));
    }

    /**
     * @param batch a batch of DJL's training API
     * @return the same arrays as a labeled batch (not copied)
     */
    public static LabeledBatch of(Batch batch) {
        return new LabeledBatch(batch.getData(), batch.getLabels());
    }

    /** @return the number of examples: the first dimension of the first input, 0 when empty */
    public long size() {
        if (data.isEmpty() || data.head().getShape().dimension() == 0) {
            return 0;
        }
        return data.head().getShape().get(0);
    }

    /** @return the first (usually the only) target array */
    public NDArray label() {
        return labels.head();
    }

    /** @return the first (usually the only) input array */
    public NDArray input() {
        return data.head();
    }
}
