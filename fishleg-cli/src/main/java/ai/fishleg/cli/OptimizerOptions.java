package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import picocli.CommandLine.Mixin;

/**
 * Every optimizer's settings on the command line, shared by {@code train}, {@code compare} and
 * {@code tune}; each option left out keeps the task's preset.
 */
final class OptimizerOptions {

    @Mixin
    FishLegOptions fishLeg;

    @Mixin
    BaselineOptions baseline;

    @Mixin
    KfacOptions kfac;

    @Mixin
    MuonOptions muon;

    /**
     * @param task the task (its presets)
     * @param kind the optimizer
     * @return the optimizer with the task's preset changed by the options given
     */
    OptimizerSpec spec(Task task, OptimizerKind kind) {
        return Specs.of(task, kind, fishLeg, baseline, kfac, muon);
    }
}
