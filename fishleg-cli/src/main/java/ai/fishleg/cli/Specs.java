package ai.fishleg.cli;

import ai.fishleg.tasks.Task;

/** Resolves an optimizer's settings: the task's preset, changed by the command-line options. */
final class Specs {

    private Specs() {}

    /**
     * @param task the task (its presets)
     * @param kind the optimizer
     * @param fishLeg FishLeg options
     * @param baseline Adam/SGD options
     * @return the optimizer with its settings
     */
    static OptimizerSpec of(Task task, OptimizerKind kind, FishLegOptions fishLeg, BaselineOptions baseline) {
        return switch (kind) {
            case FISHLEG -> new OptimizerSpec(kind, fishLeg.apply(task.fishLegPreset()), null);
            case ADAM -> new OptimizerSpec(kind, null, baseline.apply(task.adamPreset()));
            case SGD -> new OptimizerSpec(kind, null, baseline.apply(task.sgdPreset()));
        };
    }
}
