package ai.fishleg.cli;

import java.util.List;

/**
 * When a run first reached a target test loss: the MLPerf-style "time to target".
 *
 * <p>The run reached the target at its first evaluation whose test loss is at or below it. Between
 * that evaluation (step s₁, training seconds t₁, loss ℓ₁) and the one before it (s₀, t₀, ℓ₀ &gt;
 * target) the loss is taken as linear, so the target ℓ* is reached at the fraction
 * f = (ℓ₀ − ℓ*) / (ℓ₀ − ℓ₁) of the way: after t₀ + f (t₁ − t₀) seconds and s₀ + f (s₁ − s₀) steps.
 * When the first evaluation already reaches the target, or the one before it has no finite loss,
 * there is nothing to interpolate from and the evaluation's own seconds and step are reported.
 * Seconds are training seconds (evaluation excluded), as in metrics.csv.
 */
final class TimeToTarget {

    /**
     * Where a run reached its target.
     *
     * @param seconds training seconds (interpolated)
     * @param steps optimizer steps (interpolated, so possibly fractional)
     */
    record Reached(double seconds, double steps) {}

    /**
     * A run's target and when it was reached.
     *
     * @param loss the target test loss
     * @param reached when it was first reached, or null if never
     */
    record Result(double loss, Reached reached) {}

    private TimeToTarget() {}

    /**
     * @param rows a run's evaluations, in step order
     * @param target the target test loss
     * @return when the run's test loss first reached the target, or null if it never did
     * @throws IllegalArgumentException if the target is not a finite number
     */
    static Reached of(List<MetricsRow> rows, double target) {
        if (!Double.isFinite(target)) {
            throw new IllegalArgumentException("the target loss must be a finite number, got " + target);
        }
        MetricsRow previous = null;
        for (MetricsRow row : rows) {
            if (row.testLoss() <= target) {
                if (previous == null || !Double.isFinite(previous.testLoss())) {
                    return new Reached(row.seconds(), row.step());
                }
                double f = (previous.testLoss() - target) / (previous.testLoss() - row.testLoss());
                return new Reached(previous.seconds() + f * (row.seconds() - previous.seconds()),
                        previous.step() + f * (row.step() - previous.step()));
            }
            previous = row;
        }
        return null;
    }
}
