package ai.fishleg.cli;

import ai.fishleg.optim.Estimator;
import ai.fishleg.optim.USampling;
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

    @Option(names = "--warmup", paramLabel = "N",
            description = "Examples whose squared gradients set the initial diagonal of Q (0: Q0 = scale·I).")
    Integer warmup;

    @Option(names = "--estimator", paramLabel = "E",
            description = "How the auxiliary loss estimates F·V: ${COMPLETION-CANDIDATES}.")
    Estimator estimator;

    @Option(names = "--precondition-aux", negatable = true,
            description = "Precondition the auxiliary gradient with Q (--no-precondition-aux: do not).")
    Boolean preconditionAux;

    @Option(names = "--u-sampling", paramLabel = "U",
            description = "Direction Q learns along: ${COMPLETION-CANDIDATES}.")
    USampling uSampling;

    @Option(names = "--kl-clip", paramLabel = "K",
            description = "Trust-region bound κ of each FishLeg step (0: off).")
    Double klClip;

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
                normalization != null ? normalization : preset.normalization(),
                warmup != null ? warmup : preset.warmup(),
                estimator != null ? estimator : preset.estimator(),
                preconditionAux != null ? preconditionAux : preset.preconditionAux(),
                uSampling != null ? uSampling : preset.uSampling(),
                klClip != null ? klClip : preset.klClip());
    }
}
