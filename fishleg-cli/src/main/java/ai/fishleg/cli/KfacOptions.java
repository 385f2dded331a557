package ai.fishleg.cli;

import ai.fishleg.kfac.DampingForm;
import ai.fishleg.kfac.FactorInit;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.tasks.KfacTaskSettings;
import picocli.CommandLine.Option;

/**
 * K-FAC's own settings on the command line; each one left out keeps the task's preset. The
 * settings K-FAC shares with the other optimizers are read from the options that already carry
 * their name (picocli declares each option once): {@code --damping} and {@code --kl-clip} from
 * {@link FishLegOptions} (the same γ and κ), {@code --lr}, {@code --momentum} and {@code
 * --weight-decay} from {@link BaselineOptions}.
 */
final class KfacOptions {

    @Option(names = "--stat-decay", paramLabel = "D",
            description = "K-FAC: weight of the old Kronecker factors in their moving averages, in [0, 1).")
    Double statDecay;

    @Option(names = "--cov-every", paramLabel = "N",
            description = "K-FAC: update the Kronecker factors every N steps.")
    Integer covEvery;

    @Option(names = "--inv-every", paramLabel = "N",
            description = "K-FAC: invert the damped factors every N steps.")
    Integer invEvery;

    @Option(names = "--factor-init", paramLabel = "I",
            description = "K-FAC: what the factors' moving averages start from: ${COMPLETION-CANDIDATES}"
                    + " (identity: as the PyTorch K-FAC).")
    FactorInit factorInit;

    @Option(names = "--damping-form", paramLabel = "F",
            description = "K-FAC: how the curvature is damped: ${COMPLETION-CANDIDATES} (factored:"
                    + " π-split over the factors; eigen: exact, by eigendecompositions, as the"
                    + " PyTorch K-FAC).")
    DampingForm dampingForm;

    @Option(names = "--fisher-samples", paramLabel = "N",
            description = "K-FAC: labels drawn from the model per example of a statistics batch"
                    + " (1: as the PyTorch K-FAC).")
    Integer fisherSamples;

    @Option(names = "--fisher-labels", paramLabel = "L",
            description = "K-FAC: the labels of the statistics pass: ${COMPLETION-CANDIDATES} (drawn:"
                    + " from the model, the true Fisher, as the PyTorch K-FAC; observed: the batch's"
                    + " own, the empirical Fisher; only with --fisher-samples 1).")
    FisherLabels fisherLabels;

    /**
     * @param preset the task's K-FAC preset
     * @param shared the FishLeg options (--damping, --kl-clip)
     * @param baseline the Adam/SGD options (--lr, --momentum, --weight-decay)
     * @return the preset with the options given on the command line
     */
    KfacTaskSettings apply(KfacTaskSettings preset, FishLegOptions shared, BaselineOptions baseline) {
        return new KfacTaskSettings(
                baseline.lr != null ? baseline.lr : preset.lr(),
                shared.damping != null ? shared.damping : preset.damping(),
                statDecay != null ? statDecay : preset.statDecay(),
                covEvery != null ? covEvery : preset.covEvery(),
                invEvery != null ? invEvery : preset.invEvery(),
                shared.klClip != null ? shared.klClip : preset.klClip(),
                baseline.momentum != null ? baseline.momentum : preset.momentum(),
                baseline.weightDecay != null ? baseline.weightDecay : preset.weightDecay(),
                factorInit != null ? factorInit : preset.factorInit(),
                dampingForm != null ? dampingForm : preset.dampingForm(),
                fisherSamples != null ? fisherSamples : preset.fisherSamples(),
                fisherLabels != null ? fisherLabels : preset.fisherLabels());
    }
}
