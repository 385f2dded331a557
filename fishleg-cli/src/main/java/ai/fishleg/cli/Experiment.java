package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.datasets.ImageDataset;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.NamedLayer;
import ai.fishleg.tasks.Task;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Runs one command's optimizers on one task: loads the data once, trains each optimizer with
 * {@link TrainingLoop} from the same initial weights, prints the tables and writes the output
 * folder.
 */
final class Experiment {

    private Experiment() {}

    /**
     * @param command the subcommand's name (recorded in summary.json)
     * @param task the task
     * @param specs the optimizers, in order
     * @param options data, budget, seed, output options
     * @param budget the resolved budget
     * @param out console
     * @param single whether summary.json describes a single run ({@code train})
     * @param checkpoints what to save and resume ({@code train} only: one optimizer, FishLeg or K-FAC)
     * @return the exit code: 0, or 1 if a run diverged
     * @throws IOException if an output file cannot be written
     */
    static int run(String command, Task task, List<OptimizerSpec> specs, CommonOptions options,
            Budget budget, PrintWriter out, boolean single, Checkpointing checkpoints) throws IOException {
        if (checkpoints.active() && (specs.size() != 1 || !specs.get(0).kind().checkpoints())) {
            throw new UnsupportedOperationException(StepRule.CHECKPOINTS_FISHLEG_ONLY);
        }
        if (specs.stream().anyMatch(s -> s.kind() == OptimizerKind.FISHLEG)) {
            requireFishLegSupport(task.name(), task.newModel());
        }
        ImageDataset dataset = task.loadData(
                options.data, System.getenv(Task.DATA_ENV), options.trainSize, options.testSize);
        Path dir = options.out != null ? options.out : defaultOutput(task);
        try (LoadedData data = LoadedData.of(task, dataset);
                SparkBackend spark = options.spark == null ? null : SparkBackend.start(options.spark, data)) {
            RunContext context = new RunContext(command, task, dataset.name(), data.train().size(),
                    data.test().size(), budget, options.init != null ? options.init : task.init(),
                    options.seed, dir);
            Report report = new Report(out, task.isClassifier());
            // Fail now, not after the whole run, if the results or the checkpoint could not be written.
            List<WritableFolder> folders = new ArrayList<>();
            List<RunResult> results;
            try {
                folders.add(WritableFolder.prepare("--out", dir));
                if (checkpoints.save() != null) {
                    folders.add(WritableFolder.prepareParent("--save", checkpoints.save()));
                }
                results = train(data, specs, context, options, report, checkpoints,
                        java.util.Optional.ofNullable(spark));
            } catch (RuntimeException e) {
                folders.forEach(WritableFolder::removeIfUnused);
                throw e;
            }
            Double target = target(options.targetLoss, results);
            if (target != null) {
                results.replaceAll(r -> r.withTarget(target));
            }
            String targetName = options.targetLoss != null ? "the --target-loss" : "Adam's final test loss";
            report.comparison(results, targetName);
            if (command.equals("demo")) {
                report.sooner(results, OptimizerKind.FISHLEG, OptimizerKind.ADAM, targetName);
            }
            report.files(RunFiles.write(dir, context, results, single));
            return results.stream().anyMatch(RunResult::diverged) ? 1 : 0;
        }
    }

    /** Trains each optimizer in turn, printing the header and each evaluation. */
    private static List<RunResult> train(LoadedData data, List<OptimizerSpec> specs, RunContext context,
            CommonOptions options, Report report, Checkpointing checkpoints,
            java.util.Optional<SparkBackend> spark) {
        report.header(context);
        long evalInterval = context.budget().evalInterval(data.train().size());
        List<RunResult> results = new ArrayList<>();
        for (OptimizerSpec spec : specs) {
            report.optimizer(spec);
            List<TrainingLoop.Listener> listeners = new ArrayList<>();
            if (!options.noProgress && Progress.available()) {
                listeners.add(new Progress(evalInterval));
            }
            listeners.add(report);
            results.add(TrainingLoop.run(data, spec, context, checkpoints, all(listeners), spark));
        }
        return results;
    }

    /**
     * The test loss whose time to reach each run reports.
     *
     * @param option {@code --target-loss}, or null
     * @param runs the finished runs
     * @return the option if given; otherwise Adam's final test loss when Adam ran beside another
     *     optimizer and ended with a finite one; otherwise null (no target)
     */
    static Double target(Double option, List<RunResult> runs) {
        if (option != null) {
            return option;
        }
        if (runs.size() < 2) {
            return null;
        }
        for (RunResult r : runs) {
            if (r.optimizer() == OptimizerKind.ADAM && !r.diverged() && r.last() != null
                    && Double.isFinite(r.last().testLoss())) {
                return r.last().testLoss();
            }
        }
        return null;
    }

    /**
     * Fails, saying so clearly, when a task's network has layers FishLeg cannot manage yet (their
     * parameters would silently stay at their initial values).
     *
     * @param taskName the task's name, for the message
     * @param model the task's network
     * @throws UnsupportedOperationException naming the layer types
     */
    static void requireFishLegSupport(String taskName, Block model) {
        Set<String> missing = new LinkedHashSet<>();
        for (NamedLayer n : LayerSelection.namedLayers(model)) {
            if (!n.layer().getDirectParameters().isEmpty() && LayerRegistry.factoryFor(n.layer()) == null) {
                missing.add(n.layer().getClass().getSimpleName());
            }
        }
        if (!missing.isEmpty()) {
            throw new UnsupportedOperationException("FishLeg is not available for " + taskName
                    + " yet: its network has " + String.join(" and ", missing) + " layers, and this"
                    + " version of FishLeg4J can only manage " + String.join(", ", LayerRegistry.supportedTypes())
                    + " layers (the others would stay frozen). Train " + taskName
                    + " with --optimizer adam or --optimizer sgd for now.");
        }
    }

    private static Path defaultOutput(Task task) {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path dir = Path.of("runs", task.name() + "-" + stamp);
        for (int i = 2; Files.exists(dir); i++) {
            dir = Path.of("runs", task.name() + "-" + stamp + "-" + i);
        }
        return dir;
    }

    private static TrainingLoop.Listener all(List<TrainingLoop.Listener> listeners) {
        return new TrainingLoop.Listener() {
            @Override
            public void started(OptimizerKind optimizer, long firstStep, long totalSteps) {
                listeners.forEach(l -> l.started(optimizer, firstStep, totalSteps));
            }

            @Override
            public void stepped(long step, double runningLoss) {
                listeners.forEach(l -> l.stepped(step, runningLoss));
            }

            @Override
            public void evaluated(MetricsRow row) {
                listeners.forEach(l -> l.evaluated(row));
            }

            @Override
            public void finished(RunResult result) {
                listeners.forEach(l -> l.finished(result));
            }
        };
    }
}
