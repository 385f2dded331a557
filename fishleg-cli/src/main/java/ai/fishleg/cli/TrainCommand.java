package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
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
            description = "fishleg, adam or sgd (default: ${DEFAULT-VALUE}).")
    OptimizerKind optimizer;

    @Mixin
    CommonOptions common;

    @Mixin
    FishLegOptions fishLeg;

    @Mixin
    BaselineOptions baseline;

    @Override
    public Integer call() throws Exception {
        Task task = taskOption.task;
        OptimizerSpec spec = Specs.of(task, optimizer, fishLeg, baseline);
        return Experiment.run("train", task, List.of(spec), common,
                common.budget(task.epochs(), task.batchSize()), this.spec.commandLine().getOut(), true);
    }
}
