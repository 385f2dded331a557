package ai.fishleg.cli;

import ai.fishleg.tasks.BaselineSettings;
import picocli.CommandLine.Option;

/**
 * Adam's, SGD's and K-FAC's shared settings on the command line; each one left out keeps the
 * task's preset. K-FAC reads them too (see {@link KfacOptions}).
 */
final class BaselineOptions {

    @Option(names = "--lr", paramLabel = "LR",
            description = "Learning rate of Adam, SGD or K-FAC (in compare: of each of them).")
    Double lr;

    @Option(names = "--momentum", paramLabel = "M", description = "Momentum of SGD and K-FAC.")
    Double momentum;

    @Option(names = "--weight-decay", paramLabel = "WD", description = "Weight decay of Adam, SGD (L2) and K-FAC (L2, added to its step).")
    Double weightDecay;

    /**
     * @param preset the task's preset for Adam or SGD
     * @return the preset with the options given on the command line
     */
    BaselineSettings apply(BaselineSettings preset) {
        return new BaselineSettings(
                lr != null ? lr : preset.lr(),
                momentum != null ? momentum : preset.momentum(),
                weightDecay != null ? weightDecay : preset.weightDecay());
    }
}
