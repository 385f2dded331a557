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
        description = "Compare FishLeg with Adam (each with its preset) on the CURVES auto-encoder"
                + " (20,000 generated training images, 5 epochs), so nothing needs downloading."
                + " Prints a per-epoch table and a summary; writes metrics.csv, summary.json and loss"
                + " plots. A few minutes on 2 CPU cores.")
final class DemoCommand implements Callable<Integer> {

    /** Epochs of the demo (the task's preset is 10): about 2 minutes on an idle 2-core machine. */
    static final int EPOCHS = 5;

    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        Task task = Tasks.get(Tasks.DEFAULT);
        FishLegOptions noFishLegChanges = new FishLegOptions();
        BaselineOptions noBaselineChanges = new BaselineOptions();
        List<OptimizerSpec> specs = List.of(
                Specs.of(task, OptimizerKind.FISHLEG, noFishLegChanges, noBaselineChanges),
                Specs.of(task, OptimizerKind.ADAM, noFishLegChanges, noBaselineChanges));
        return Experiment.run("demo", task, specs, common, common.budget(EPOCHS, task.batchSize(), false),
                spec.commandLine().getOut(), false, Checkpointing.NONE);
    }
}
