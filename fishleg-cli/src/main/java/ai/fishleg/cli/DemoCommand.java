package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code fishleg demo}: FishLeg against Adam on the default task, no download needed. */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Compare FishLeg with Adam (each with its preset) on the CURVES auto-encoder,"
                + " whose images are generated, so nothing needs downloading. Prints a per-epoch table"
                + " and a summary; writes metrics.csv, summary.json and loss plots. About 5 minutes"
                + " on 2 CPU cores.")
final class DemoCommand implements Callable<Integer> {

    /** Training images of the demo (the paper's 20,000 would take 4x as long). */
    static final int TRAIN_IMAGES = 5_000;
    /** Test images of the demo. */
    static final int TEST_IMAGES = 2_000;
    /** Epochs of the demo. */
    static final int EPOCHS = 5;

    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        Task task = Tasks.get(Tasks.DEFAULT);
        if (common.trainSize == 0) {
            common.trainSize = TRAIN_IMAGES;
        }
        if (common.testSize == 0) {
            common.testSize = TEST_IMAGES;
        }
        FishLegOptions noFishLegChanges = new FishLegOptions();
        BaselineOptions noBaselineChanges = new BaselineOptions();
        List<OptimizerSpec> specs = List.of(
                Specs.of(task, OptimizerKind.FISHLEG, noFishLegChanges, noBaselineChanges),
                Specs.of(task, OptimizerKind.ADAM, noFishLegChanges, noBaselineChanges));
        return Experiment.run("demo", task, specs, common, common.budget(EPOCHS, task.batchSize()),
                spec.commandLine().getOut(), false);
    }
}
