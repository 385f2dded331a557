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
        return of(task, kind, fishLeg, baseline, new KfacOptions(), new MuonOptions());
    }

    /**
     * @param task the task (its presets)
     * @param kind the optimizer
     * @param fishLeg FishLeg options (K-FAC reads --damping and --kl-clip from them)
     * @param baseline Adam/SGD options (K-FAC reads --lr, --momentum and --weight-decay from them)
     * @param kfac K-FAC's own options
     * @param muon Muon's options
     * @return the optimizer with its settings
     */
    static OptimizerSpec of(Task task, OptimizerKind kind, FishLegOptions fishLeg, BaselineOptions baseline,
            KfacOptions kfac, MuonOptions muon) {
        return switch (kind) {
            case FISHLEG -> new OptimizerSpec(kind, fishLeg.apply(task.fishLegPreset()), null, null, null,
                    fishLeg.qualityEvery());
            case KFAC -> new OptimizerSpec(kind, null, null, kfac.apply(task.kfacPreset(), fishLeg, baseline));
            case ADAM -> new OptimizerSpec(kind, null, baseline.apply(task.adamPreset()));
            case SGD -> new OptimizerSpec(kind, null, baseline.apply(task.sgdPreset()));
            case MUON -> new OptimizerSpec(kind, null, null, null, muon.apply(task.muonPreset()), 0);
        };
    }
}
