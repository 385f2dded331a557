package ai.fishleg.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A grid search over an optimizer's settings ({@code fishleg tune}): every point of the grid is
 * one trial, trained from the same initial weights on the same batches; the best trial has the
 * lowest test loss at the end of the budget, or, with a target loss, reaches it soonest.
 *
 * <p>Trials already done (read back from an interrupted sweep's files) are not run again.
 */
final class Sweep {

    private Sweep() {}

    /**
     * One trial of a sweep.
     *
     * @param settings the swept settings (name → value, for example {@code lr → 0.002})
     * @param finalTestLoss test loss at the end of the budget (NaN if it diverged before an evaluation)
     * @param finalAccuracy test accuracy at the end (NaN for auto-encoders)
     * @param steps steps trained
     * @param seconds training seconds (evaluation excluded)
     * @param stepsToTarget steps to the target loss (interpolated), or NaN if not reached or no target
     * @param secondsToTarget seconds to the target loss, or NaN if not reached or no target
     * @param diverged whether training stopped on a non-finite value
     */
    record Trial(Map<String, Double> settings, double finalTestLoss, double finalAccuracy, long steps,
            double seconds, double stepsToTarget, double secondsToTarget, boolean diverged) {

        /** @return whether it reached the target loss */
        boolean reachedTarget() {
            return Double.isFinite(secondsToTarget);
        }
    }

    /** What makes a trial the best. */
    enum Objective {
        /** The lowest test loss at the end of the budget. */
        FINAL_TEST_LOSS,
        /** The fewest seconds to the target loss (ties and runs that miss it: the final test loss). */
        SECONDS_TO_TARGET
    }

    /**
     * The points of a grid: every combination of the axes' values, the first axis varying slowest.
     *
     * @param axes setting name → its values, in order
     * @return the points
     */
    static List<Map<String, Double>> grid(Map<String, List<Double>> axes) {
        List<Map<String, Double>> points = new ArrayList<>();
        points.add(new LinkedHashMap<>());
        for (Map.Entry<String, List<Double>> axis : axes.entrySet()) {
            if (axis.getValue().isEmpty()) {
                throw new IllegalArgumentException("the sweep over " + axis.getKey() + " has no values");
            }
            List<Map<String, Double>> next = new ArrayList<>();
            for (Map<String, Double> p : points) {
                for (double v : axis.getValue()) {
                    if (!(v > 0) || Double.isInfinite(v)) {
                        throw new IllegalArgumentException("every value of " + axis.getKey()
                                + " in a sweep must be a finite number > 0, got " + v);
                    }
                    Map<String, Double> q = new LinkedHashMap<>(p);
                    q.put(axis.getKey(), v);
                    next.add(q);
                }
            }
            points = next;
        }
        return points;
    }

    /**
     * A log grid around a value: {@code center · factor^k} for {@code k = -(points-1)/2 ...}.
     *
     * @param center the middle value (for example the preset)
     * @param factor ratio of neighbouring values, > 1
     * @param points number of values, >= 1
     * @return the values, ascending
     */
    static List<Double> logGrid(double center, double factor, int points) {
        if (!(factor > 1) || Double.isInfinite(factor)) {
            throw new IllegalArgumentException("--factor must be a finite number > 1, got " + factor);
        }
        if (points < 1) {
            throw new IllegalArgumentException("--points must be >= 1, got " + points);
        }
        List<Double> out = new ArrayList<>();
        for (int i = 0; i < points; i++) {
            out.add(center * Math.pow(factor, i - (points - 1) / 2.0));
        }
        return out;
    }

    /**
     * Runs every trial of the grid that is not done yet.
     *
     * @param points the grid
     * @param done trials of an interrupted run of the same sweep (reused where the settings match)
     * @param runner trains one point
     * @param afterEach receives every trial so far, in grid order, after each new trial (to save them)
     * @return every trial, in grid order
     */
    static List<Trial> run(List<Map<String, Double>> points, List<Trial> done,
            Function<Map<String, Double>, Trial> runner, Consumer<List<Trial>> afterEach) {
        List<Trial> out = new ArrayList<>();
        for (int i = 0; i < points.size(); i++) {
            Map<String, Double> point = points.get(i);
            Optional<Trial> old = done.stream().filter(t -> t.settings().equals(point)).findFirst();
            if (old.isPresent()) {
                out.add(old.get());
                continue;
            }
            out.add(runner.apply(point));
            List<Trial> sofar = new ArrayList<>(out);
            // keep the old trials not yet reached, so that a second interruption loses nothing
            for (int j = i + 1; j < points.size(); j++) {
                Map<String, Double> later = points.get(j);
                done.stream().filter(t -> t.settings().equals(later)).findFirst().ifPresent(sofar::add);
            }
            afterEach.accept(sofar);
        }
        return out;
    }

    /**
     * @param trials the trials
     * @param objective what counts
     * @return the best trial, or empty if every trial diverged
     */
    static Optional<Trial> best(List<Trial> trials, Objective objective) {
        Comparator<Trial> byLoss = Comparator.comparingDouble(Trial::finalTestLoss);
        Comparator<Trial> order = objective == Objective.SECONDS_TO_TARGET
                ? Comparator.comparing((Trial t) -> !t.reachedTarget())
                        .thenComparingDouble(t -> t.reachedTarget() ? t.secondsToTarget() : 0)
                        .thenComparing(byLoss)
                : byLoss;
        return trials.stream()
                .filter(t -> !t.diverged() && Double.isFinite(t.finalTestLoss()))
                .min(order);
    }
}
