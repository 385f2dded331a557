package ai.fishleg.fishleg;

import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.FisherLabels;
import java.util.Objects;
import java.util.Optional;

/**
 * How {@link FishLeg#pretrainFish} learns λ: the direction u each iteration stores, the labels of
 * its auxiliary updates, and what it logs.
 *
 * @param direction u from one batch's gradient, or the difference of two batches' gradients
 * @param labels the auxiliary updates' targets: drawn from the model (the reference) or the
 *     batch's own
 * @param progress what to log (empty: nothing)
 */
public record PretrainOptions(
        Direction direction, FisherLabels labels, Optional<Progress> progress) {

    /** Which gradient an iteration stores as u. */
    public enum Direction {
        /** u ← ∇loss on a random batch. */
        BATCH_GRADIENT,
        /** u ← ∇loss(batch) − ∇loss(batch'), two random batches. */
        GRADIENT_DIFFERENCE
    }

    /**
     * Progress in the log.
     *
     * @param every log every this many iterations (the reference's {@code batch_size}), > 0
     * @param testData also report the average check over 100 evaluation updates on this data
     */
    public record Progress(int every, Optional<BatchSource> testData) {
        /** Checks the values. */
        public Progress {
            if (every <= 0) {
                throw new IllegalArgumentException(
                        "the progress interval must be > 0, got " + every);
            }
            Objects.requireNonNull(testData, "testData");
        }
    }

    /** Checks that every value is given. */
    public PretrainOptions {
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(progress, "progress");
    }

    /** @return the reference's defaults: one batch's gradient, labels drawn, nothing logged */
    public static PretrainOptions defaults() {
        return new PretrainOptions(Direction.BATCH_GRADIENT, FisherLabels.DRAWN, Optional.empty());
    }
}
