package ai.fishleg.cli;

import ai.fishleg.tasks.BaselineSettings;
import picocli.CommandLine.Option;

/** Adam's and SGD's settings on the command line; each one left out keeps the task's preset. */
final class BaselineOptions {

    @Option(names = "--lr", paramLabel = "LR",
            description = "Learning rate of Adam or SGD (in compare: of each of them).")
    Double lr;

    @Option(names = "--momentum", paramLabel = "M", description = "SGD momentum.")
    Double momentum;

    @Option(names = "--weight-decay", paramLabel = "WD", description = "Adam/SGD L2 weight decay.")
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
