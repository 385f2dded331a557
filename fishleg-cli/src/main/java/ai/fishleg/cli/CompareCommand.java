package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg compare}: several optimizers on the same data, seed and initial weights. */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train the task's network with each optimizer in turn, from the same initial"
                + " weights on the same batches; one plot with a line per optimizer.")
final class CompareCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Option(names = "--optimizers", paramLabel = "LIST", split = ",", defaultValue = "fishleg,adam",
            description = "Comma-separated, from: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    List<OptimizerKind> optimizers;

    @Mixin
    CommonOptions common;

    @Mixin
    OptimizerOptions settings;

    @Override
    public Integer call() throws Exception {
        Task task = taskOption.task;
        if (new LinkedHashSet<>(optimizers).size() != optimizers.size()) {
            throw new IllegalArgumentException("--optimizers lists an optimizer twice: " + optimizers);
        }
        List<OptimizerSpec> specs = new ArrayList<>();
        for (OptimizerKind kind : optimizers) {
            specs.add(settings.spec(task, kind));
        }
        return Experiment.run("compare", task, specs, common,
                common.budget(task.epochs(), task.batchSize(), false), spec.commandLine().getOut(), false,
                Checkpointing.NONE);
    }
}
