package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg train}: one optimizer on one task. */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train the task's network with one optimizer; writes metrics.csv, summary.json"
                + " and loss plots into the output folder.")
final class TrainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Option(names = "--optimizer", paramLabel = "NAME", defaultValue = "fishleg",
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OptimizerKind optimizer;

    @Mixin
    CommonOptions common;

    @Mixin
    OptimizerOptions settings;

    @Option(names = "--save", paramLabel = "FILE",
            description = "Write a checkpoint (model weights, the optimizer's complete state and the"
                    + " training loop's position) at the end of the run; FishLeg and K-FAC only.")
    Path save;

    @Option(names = "--save-every", paramLabel = "N",
            description = "Also rewrite the --save checkpoint after every N steps.")
    long saveEvery;

    @Option(names = "--resume", paramLabel = "FILE",
            description = "Continue the run that wrote this checkpoint (give its options again);"
                    + " --steps/--epochs then count the steps still to train.")
    Path resume;

    @Override
    public Integer call() throws Exception {
        Task task = taskOption.task;
        Checkpointing checkpoints = new Checkpointing(save, saveEvery, resume);
        if (resume != null && !Files.isRegularFile(resume)) {
            throw new IllegalArgumentException("--resume " + resume + ": no such checkpoint file");
        }
        OptimizerSpec spec = settings.spec(task, optimizer);
        return Experiment.run("train", task, List.of(spec), common,
                common.budget(task.epochs(), task.batchSize(), true), this.spec.commandLine().getOut(), true,
                checkpoints);
    }
}
