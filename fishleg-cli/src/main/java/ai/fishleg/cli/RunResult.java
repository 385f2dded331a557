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
        Path checkpoint) {

    /** @return whether a training loss was NaN or infinite (the run was stopped there) */
    boolean diverged() {
        return divergedAtStep >= 0;
    }

    /** @return the last row, or null if the run stopped before its first evaluation */
    MetricsRow last() {
        return rows.isEmpty() ? null : rows.get(rows.size() - 1);
    }
}
