package ai.fishleg.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The outcome of training one optimizer.
 *
 * @param optimizer which optimizer
 * @param hyperparameters its settings
 * @param statistics counts the optimizer keeps (FishLeg: clipped and skipped steps, ...; may be
 *     empty)
 * @param rows the metrics, in step order
 * @param steps steps completed
 * @param epochs epochs completed (fractional)
 * @param trainSeconds wall-clock training time (evaluation excluded)
 * @param divergedAtStep the step whose loss (or FishLeg step) was not finite, or -1 if training
 *     stayed finite
 * @param divergence what was not finite, or null
 * @param resumedAtStep the step of the checkpoint the run continued from, or -1
 * @param checkpoint the checkpoint written at the end, or null
 * @param stopped why the run ended before its budget of steps, or null if it trained them all
 * @param target the target test loss and when the run reached it, or null when the command has
 *     no target
 */
record RunResult(
        OptimizerKind optimizer,
        Map<String, Object> hyperparameters,
        Map<String, Object> statistics,
        List<MetricsRow> rows,
        long steps,
        double epochs,
        double trainSeconds,
        long divergedAtStep,
        String divergence,
        long resumedAtStep,
        Path checkpoint,
        Stop stopped,
        TimeToTarget.Result target) {

    /** Why a run ended before its budget of steps. */
    enum Stop {
        /** A training loss or step was not finite. */
        DIVERGED,
        /** {@code --time-limit} seconds of training were spent. */
        TIME_LIMIT,
        /** An evaluation reached {@code --target-loss} ({@code train} only). */
        TARGET_REACHED;

        /** @return the name written in summary.json */
        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * @param loss a target test loss
     * @return this run with when it first reached the target (see {@link TimeToTarget})
     */
    RunResult withTarget(double loss) {
        return new RunResult(optimizer, hyperparameters, statistics, rows, steps, epochs, trainSeconds,
                divergedAtStep, divergence, resumedAtStep, checkpoint, stopped,
                new TimeToTarget.Result(loss, TimeToTarget.of(rows, loss)));
    }

    /** @return whether a training loss was NaN or infinite (the run was stopped there) */
    boolean diverged() {
        return divergedAtStep >= 0;
    }

    /** @return the last row, or null if the run stopped before its first evaluation */
    MetricsRow last() {
        return rows.isEmpty() ? null : rows.get(rows.size() - 1);
    }
}
