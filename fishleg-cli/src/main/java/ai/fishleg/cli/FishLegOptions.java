package ai.fishleg.cli;

import ai.fishleg.tasks.FishLegSettings;
import picocli.CommandLine.Option;

/** FishLeg's settings on the command line; each one left out keeps the task's preset. */
final class FishLegOptions {

    @Option(names = "--fish-lr", paramLabel = "ETA", description = "FishLeg step size η of the parameters.")
    Double fishLr;

    @Option(names = "--damping", paramLabel = "GAMMA", description = "FishLeg damping γ of the Fisher.")
    Double damping;

    @Option(names = "--aux-lr", paramLabel = "LR", description = "Learning rate of the auxiliary Adam that learns Q.")
    Double auxLr;

    @Option(names = "--update-aux-every", paramLabel = "K",
            description = "One auxiliary update every K steps (K < 0: |K| per step; 0: never).")
    Integer updateAuxEvery;

    @Option(names = "--scale", paramLabel = "S", description = "Initial scale of Q (Q0 = S·I).")
    Double scale;

    @Option(names = "--beta", paramLabel = "B", description = "Momentum of FishLeg's natural gradient.")
    Double beta;

    @Option(names = "--fish-weight-decay", paramLabel = "WD", description = "FishLeg's decoupled weight decay per step.")
    Double weightDecay;

    @Option(names = "--normalization", negatable = true, paramLabel = "",
            description = "Divide the auxiliary loss by ‖u‖² (--no-normalization: do not).")
    Boolean normalization;

    /**
     * @param preset the task's FishLeg preset
     * @return the preset with the options given on the command line
     */
    FishLegSettings apply(FishLegSettings preset) {
        return new FishLegSettings(
                fishLr != null ? fishLr : preset.fishLr(),
                damping != null ? damping : preset.damping(),
                auxLr != null ? auxLr : preset.auxLr(),
                updateAuxEvery != null ? updateAuxEvery : preset.updateAuxEvery(),
                scale != null ? scale : preset.scale(),
                beta != null ? beta : preset.beta(),
                weightDecay != null ? weightDecay : preset.weightDecay(),
                normalization != null ? normalization : preset.normalization());
    }
}
