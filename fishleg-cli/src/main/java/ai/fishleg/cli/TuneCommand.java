package ai.fishleg.cli;

import ai.fishleg.datasets.ImageDataset;
import ai.fishleg.tasks.BaselineSettings;
import ai.fishleg.tasks.Task;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code fishleg tune}: a sweep of one optimizer's step size (and, for FishLeg and K-FAC, its
 * damping) on a log grid, every trial from the same initial weights on the same batches, at a
 * fixed budget; prints the table, writes tune.json, tune.csv and tune.png, and continues an
 * interrupted sweep in the same folder.
 */
@Command(name = "tune", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sweep one optimizer's learning rate (and damping) on a log grid at a fixed"
                + " budget; the best trial has the lowest final test loss (with --target-loss: reaches"
                + " it soonest). Writes tune.json, tune.csv and tune.png; run it again with the same"
                + " options to continue an interrupted sweep.")
final class TuneCommand implements Callable<Integer> {

    /** The swept step size (FishLeg's --fish-lr, the others' --lr). */
    static final String LR = "lr";
    /** The swept damping (FishLeg and K-FAC). */
    static final String DAMPING = "damping";

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Option(names = "--optimizer", paramLabel = "NAME", defaultValue = "adam",
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    OptimizerKind optimizer;

    @Option(names = "--lrs", paramLabel = "LIST", split = ",",
            description = "The step sizes to try (FishLeg's fish-lr, Muon's muon-lr, the others' lr); default: a log"
                    + " grid of --points values around the preset, --factor apart.")
    List<Double> lrs;

    @Option(names = "--points", paramLabel = "N", defaultValue = "3",
            description = "Values of the default step-size grid (default: ${DEFAULT-VALUE}).")
    int points;

    @Option(names = "--factor", paramLabel = "F", defaultValue = "2",
            description = "Ratio of neighbouring values of the default grid (default: ${DEFAULT-VALUE}).")
    double factor;

    @Option(names = "--dampings", paramLabel = "LIST", split = ",",
            description = "FishLeg and K-FAC: the dampings to try with each step size (default: the preset only).")
    List<Double> dampings;

    @Mixin
    CommonOptions common;

    @Mixin
    OptimizerOptions settings;

    @Override
    public Integer call() throws IOException {
        Task task = taskOption.task;
        PrintWriter out = spec.commandLine().getOut();
        OptimizerSpec base = settings.spec(task, optimizer);
        Map<String, List<Double>> axes = new LinkedHashMap<>();
        axes.put(LR, lrs != null ? lrs : Sweep.logGrid(lr(base), factor, points));
        if (dampings != null) {
            if (optimizer != OptimizerKind.FISHLEG && optimizer != OptimizerKind.KFAC) {
                throw new IllegalArgumentException("--dampings is for --optimizer fishleg or kfac;"
                        + " " + optimizer + " has no damping");
            }
            axes.put(DAMPING, dampings);
        }
        List<Map<String, Double>> grid = Sweep.grid(axes);
        Sweep.Objective objective = common.targetLoss != null
                ? Sweep.Objective.SECONDS_TO_TARGET : Sweep.Objective.FINAL_TEST_LOSS;
        Budget budget = common.budget(task.epochs(), task.batchSize(), true);
        Path dir = common.out != null ? common.out : Path.of("runs", "tune-" + task.name() + "-" + optimizer);
        WritableFolder.prepare("--out", dir);

        ImageDataset dataset = task.loadData(
                common.data, System.getenv(Task.DATA_ENV), common.trainSize, common.testSize);
        try (LoadedData data = LoadedData.of(task, dataset)) {
            RunContext context = new RunContext("tune", task, dataset.name(), data.train().size(),
                    data.test().size(), budget, common.init != null ? common.init : task.init(),
                    common.seed, dir);
            Map<String, Double> neutral = new LinkedHashMap<>();
            axes.keySet().forEach(k -> neutral.put(k, 1.0));
            JsonObject identity = identity(context, at(base, neutral));
            List<Sweep.Trial> done = SweepFiles.done(dir, identity);
            Report report = new Report(out, task.isClassifier());
            report.header(context);
            out.printf(Locale.ROOT, "Sweep   %s, %d trials%s%n", axes, grid.size(),
                    done.isEmpty() ? "" : " (" + done.size() + " done before, not run again)");
            List<Sweep.Trial> trials = Sweep.run(grid, done, point -> {
                OptimizerSpec s = at(base, point);
                report.optimizer(s);
                return trial(point, TrainingLoop.run(data, s, context, Checkpointing.NONE, report),
                        common.targetLoss);
            }, sofar -> {
                try {
                    SweepFiles.writeJson(dir, identity, sofar, objective);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            Optional<Sweep.Trial> best = Sweep.best(trials, objective);
            table(out, trials, best);
            List<Path> files = new ArrayList<>();
            files.add(SweepFiles.writeJson(dir, identity, trials, objective));
            files.addAll(SweepFiles.writeTable(dir, task.name() + ": " + optimizer.displayName()
                    + ", " + trials.get(0).steps() + " steps", trials, best));
            report.files(files);
            return best.isPresent() ? 0 : 1;
        }
    }

    /**
     * What makes two sweeps the same (an interrupted one is continued only if all of it matches).
     *
     * @param context the run's context
     * @param base the optimizer with every swept setting at 1 (so that the preset's own value does not count)
     */
    private static JsonObject identity(RunContext context, OptimizerSpec base) {
        JsonObject o = context.toJson();
        o.addProperty("optimizer", base.kind().label());
        Budget b = context.budget();
        o.addProperty("epochs", b.steps() > 0 ? 0 : b.epochs());
        o.addProperty("steps", b.steps());
        o.addProperty("time_limit", b.timeLimit());
        o.addProperty("target_loss", Double.isNaN(b.stopAtLoss()) ? "none" : Double.toString(b.stopAtLoss()));
        o.addProperty("other_settings", base.toString());
        return o;
    }

    /** The trial's outcome from its run. */
    static Sweep.Trial trial(Map<String, Double> point, RunResult run, Double target) {
        MetricsRow last = run.last();
        TimeToTarget.Reached reached = target == null ? null : TimeToTarget.of(run.rows(), target);
        return new Sweep.Trial(point, last == null ? Double.NaN : last.testLoss(),
                last == null ? Double.NaN : last.accuracy(), run.steps(), run.trainSeconds(),
                reached == null ? Double.NaN : reached.steps(),
                reached == null ? Double.NaN : reached.seconds(), run.diverged());
    }

    /** @return the step size the optimizer would run with */
    static double lr(OptimizerSpec s) {
        return switch (s.kind()) {
            case FISHLEG -> s.fishLeg().fishLr();
            case KFAC -> s.kfac().lr();
            case ADAM, SGD -> s.baseline().lr();
            case MUON -> s.muon().lr();
        };
    }

    /** @return the optimizer with the point's step size (and damping) */
    static OptimizerSpec at(OptimizerSpec s, Map<String, Double> point) {
        double lr = point.get(LR);
        Double damping = point.get(DAMPING);
        return switch (s.kind()) {
            case FISHLEG -> new OptimizerSpec(s.kind(), s.fishLeg().toBuilder().fishLr(lr)
                    .damping(damping != null ? damping : s.fishLeg().damping()).build(), null);
            case KFAC -> new OptimizerSpec(s.kind(), null, null,
                    s.kfac().with(lr, damping != null ? damping : s.kfac().damping()));
            case ADAM, SGD -> new OptimizerSpec(s.kind(), null,
                    new BaselineSettings(lr, s.baseline().momentum(), s.baseline().weightDecay()));
            case MUON -> new OptimizerSpec(s.kind(), null, null, null, s.muon().withLr(lr), 0);
        };
    }

    private static void table(PrintWriter out, List<Sweep.Trial> trials, Optional<Sweep.Trial> best) {
        out.println();
        List<String> names = new ArrayList<>(trials.get(0).settings().keySet());
        StringBuilder head = new StringBuilder();
        names.forEach(n -> head.append(String.format(Locale.ROOT, "%-10s ", n)));
        out.println(head + "final test loss  accuracy  steps to target  seconds");
        for (Sweep.Trial t : trials) {
            StringBuilder line = new StringBuilder();
            names.forEach(n -> line.append(String.format(Locale.ROOT, "%-10s ", SweepFiles.num(t.settings().get(n)))));
            out.printf(Locale.ROOT, "%s%-16s %-9s %-16s %.1f%s%n", line,
                    t.diverged() ? "diverged" : SweepFiles.num(t.finalTestLoss()),
                    SweepFiles.num(t.finalAccuracy()),
                    t.reachedTarget() ? String.format(Locale.ROOT, "%.0f", t.stepsToTarget()) : "-",
                    t.seconds(), best.isPresent() && best.get() == t ? "   <- best" : "");
        }
        out.println(best.isPresent() ? "Best: " + best.get().settings() : "Every trial diverged.");
        out.flush();
    }
}
