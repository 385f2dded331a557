package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.datasets.ImageDataset;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.fishleg.AuxMode;
import ai.fishleg.kfac.KroneckerEstimate;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.core.Checkpoint;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.prune.BatchNormStatistics;
import ai.fishleg.prune.Compensation;
import ai.fishleg.prune.InverseFisher;
import ai.fishleg.prune.MaskedOptimizer;
import ai.fishleg.prune.Masks;
import ai.fishleg.prune.PrunableLayer;
import ai.fishleg.prune.Pruner;
import ai.fishleg.prune.PruningSchedule;
import ai.fishleg.prune.SparsityScope;
import ai.fishleg.tasks.Evaluation;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.Callable;
import java.util.function.IntFunction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg prune}: prune a trained network with FishLeg's Q, K-FAC's inverse or magnitude. */
@Command(name = "prune", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Train the task's network with FishLeg (or read a `train --save` checkpoint),"
                + " prune it to each sparsity with each method (Optimal Brain Surgeon with FishLeg's"
                + " learned inverse Fisher Q, with K-FAC's damped inverse, or by magnitude), one-shot,"
                + " gradually and with a masked fine-tune; writes results.csv, summary.json, a plot of"
                + " accuracy against sparsity and the pruned weights.")
final class PruneCommand implements Callable<Integer> {

    /** How saliencies and compensations are computed. */
    enum Method {
        /** OBS with FishLeg's Q(λ) (FishLeg Surgeon). */
        FISHLEG,
        /** OBS with K-FAC's damped inverse, estimated on calibration batches. */
        KFAC,
        /** The identity: the smallest weights go, nothing else moves. */
        MAGNITUDE
    }

    private static final long AUX_STREAM = 0x415558L;
    private static final long CALIBRATION_STREAM = 0x43414c4942L;
    private static final long FINE_TUNE_STREAM = 0x46494e45L;
    private static final long BATCH_NORM_STREAM = 0x424e4fL;

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Option(names = "--sparsities", paramLabel = "S,...", split = ",", defaultValue = "0.5,0.7,0.9",
            description = "Fractions of the pruned layers' weights to remove, each in [0, 1)"
                    + " (default: ${DEFAULT-VALUE}).")
    List<Double> sparsities;

    @Option(names = "--methods", paramLabel = "M,...", split = ",", defaultValue = "fishleg,kfac,magnitude",
            description = "Any of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    List<Method> methods;

    @Option(names = "--from", paramLabel = "FILE",
            description = "Prune the network of this `fishleg train --optimizer fishleg --save` checkpoint"
                    + " (same task, data and batch size) instead of training one.")
    Path from;

    @Option(names = "--train-epochs", paramLabel = "N", defaultValue = "2",
            description = "Without --from: train the dense network with FishLeg (the task's preset) for"
                    + " N epochs first; the checkpoint goes to OUT/dense.ckpt (default: ${DEFAULT-VALUE}).")
    int trainEpochs;

    @Option(names = "--gradual", paramLabel = "K", defaultValue = "0",
            description = "Also prune gradually in K steps (cubic schedule), refining the inverse between"
                    + " steps (0: one-shot only; default: ${DEFAULT-VALUE}).")
    int gradual;

    @Option(names = "--refine-steps", paramLabel = "N", defaultValue = "0",
            description = "Gradual FishLeg: auxiliary updates of Q on training batches between two pruning"
                    + " steps (0: the trained Q at every step; default: ${DEFAULT-VALUE}).")
    int refineSteps;

    @Option(names = "--fine-tune-epochs", paramLabel = "E", defaultValue = "0",
            description = "Also fine-tune each pruned network with masked FishLeg steps for E epochs"
                    + " (may be a fraction; default: ${DEFAULT-VALUE}).")
    double fineTuneEpochs;

    @Option(names = "--fine-tune-lr", paramLabel = "ETA",
            description = "FishLeg's step size η of the fine-tune, > 0 (default: the dense checkpoint's,"
                    + " i.e. the step size it was trained with).")
    Optional<Double> fineTuneLr = Optional.empty();

    @Option(names = "--scope", paramLabel = "SCOPE", defaultValue = "per_layer",
            description = "per_layer (every layer to the same sparsity) or global (one ranking over all"
                    + " layers) (default: ${DEFAULT-VALUE}).")
    SparsityScope scope;

    @Option(names = "--compensation", paramLabel = "C", defaultValue = "independent",
            description = "How the remaining weights move: none, independent or row_exact (OBS; ignored by"
                    + " magnitude) (default: ${DEFAULT-VALUE}).")
    Compensation compensation;

    @Option(names = "--bn-batches", paramLabel = "N", defaultValue = "100",
            description = "Networks with BatchNorm: training-mode forward passes that re-estimate its running"
                    + " statistics after pruning, before the pruned network is evaluated (0: keep the dense"
                    + " network's; default: ${DEFAULT-VALUE}).")
    int bnBatches;

    @Option(names = "--calibration-batches", paramLabel = "N", defaultValue = "10",
            description = "K-FAC: training batches (labels drawn from the model) of its estimate"
                    + " (default: ${DEFAULT-VALUE}).")
    int calibrationBatches;

    @Option(names = "--kfac-damping", paramLabel = "GAMMA", defaultValue = "1e-3",
            description = "K-FAC: the damping γ of its inverse (default: ${DEFAULT-VALUE}).")
    double kfacDamping;

    @Option(names = "--save-weights", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Write each pruned network's parameters (DJL's .params format) into OUT/weights"
                    + " (default: on).")
    boolean saveWeights;

    @Option(names = "--data", paramLabel = "DIR",
            description = "Folder with the IDX files (default: $FISHLEG_DATA, else the installed data set).")
    Path data;

    @Option(names = "--train-size", paramLabel = "N", description = "Use only the first N training examples.")
    int trainSize;

    @Option(names = "--test-size", paramLabel = "N", description = "Use only the first N test examples.")
    int testSize;

    @Option(names = "--batch-size", paramLabel = "B", description = "Examples per step (default: the task's preset).")
    Integer batchSize;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the initial weights, batch order and sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Output folder (default: runs/<task>-prune-<seed>).")
    Path out;

    @Mixin
    FishLegOptions fishLeg;

    @Override
    public Integer call() throws IOException {
        Task task = taskOption.task;
        for (double s : sparsities) {
            PruningSchedule.oneShot(s); // a clear error now, not after training
        }
        if (methods.isEmpty()) {
            throw new IllegalArgumentException("--methods: give at least one of fishleg, kfac, magnitude");
        }
        if (gradual < 0 || refineSteps < 0 || fineTuneEpochs < 0 || bnBatches < 0 || calibrationBatches < 1
                || trainEpochs < 1) {
            throw new IllegalArgumentException("--gradual, --refine-steps, --fine-tune-epochs and --bn-batches"
                    + " must be >= 0,"
                    + " --calibration-batches and --train-epochs >= 1");
        }
        if (fineTuneLr.isPresent()) {
            double lr = fineTuneLr.get();
            if (!(lr > 0) || Double.isInfinite(lr)) {
                throw new IllegalArgumentException("--fine-tune-lr must be a finite number > 0, got " + lr);
            }
            if (!(fineTuneEpochs > 0)) {
                throw new IllegalArgumentException("--fine-tune-lr needs --fine-tune-epochs > 0");
            }
        }
        if (from != null && !Files.isRegularFile(from)) {
            throw new IllegalArgumentException("--from " + from + ": no such checkpoint file");
        }
        Experiment.requireFishLegSupport(task.name(), task.newModel());
        PrintWriter console = spec.commandLine().getOut();
        ImageDataset dataset = task.loadData(data, System.getenv(Task.DATA_ENV), trainSize, testSize);
        Path dir = out != null ? out : Path.of("runs", task.name() + "-prune-" + seed);
        WritableFolder folder = WritableFolder.prepare("--out", dir);
        int batch = batchSize != null ? batchSize : task.batchSize();
        OptimizerSpec optimizer = Specs.of(task, OptimizerKind.FISHLEG, fishLeg, new BaselineOptions());
        try (LoadedData loaded = LoadedData.of(task, dataset)) {
            RunContext context = new RunContext("prune", task, dataset.name(), loaded.train().size(),
                    loaded.test().size(), new Budget(trainEpochs, 0, batch, 0, 0, Double.NaN), task.init(),
                    seed, dir);
            Path dense = from;
            if (dense == null) {
                dense = dir.resolve("dense.ckpt");
                console.printf("Training %s with FishLeg for %d epochs (seed %d) -> %s%n", task.name(),
                        trainEpochs, seed, dense);
                console.flush();
                RunResult r = TrainingLoop.run(loaded, optimizer, context, new Checkpointing(dense, 0, null),
                        new TrainingLoop.Listener() {});
                if (r.diverged()) {
                    console.println("the dense training diverged: " + r.divergence());
                    return 1;
                }
            }
            Session session = new Session(loaded, optimizer, context, dense, console);
            List<PruneRow> rows = session.run();
            List<Path> files = PruneFiles.write(dir, context, rows, session.fineTuneStepSize);
            console.println();
            files.forEach(f -> console.println("wrote " + f));
            return 0;
        } catch (RuntimeException e) {
            folder.removeIfUnused();
            throw e;
        }
    }

    /** One network, its FishLeg optimizer and the dense checkpoint they return to before each pruning. */
    private final class Session {
        private final LoadedData loaded;
        private final RunContext context;
        private final Path dense;
        private final PrintWriter console;
        private final NDManager manager;
        private final Block model;
        private final FishLikelihood likelihood;
        private final BatchSource calibration;
        private final FishLeg opt;
        private final List<PruneRow> rows = new ArrayList<>();
        /** The step size of the fine-tunes (none without --fine-tune-epochs), known after the first restore. */
        private OptionalDouble fineTuneStepSize = OptionalDouble.empty();

        Session(LoadedData loaded, OptimizerSpec optimizer, RunContext context, Path dense, PrintWriter console) {
            this.loaded = loaded;
            this.context = context;
            this.dense = dense;
            this.console = console;
            this.manager = loaded.manager().newSubManager();
            int batch = context.budget().batchSize();
            Task task = loaded.task();
            this.model = task.newModel();
            ModelInit.initialize(model, manager, LoadedData.DATA_TYPE, task.inputShape(batch), context.init(),
                    context.seed());
            this.likelihood = task.newLikelihood();
            likelihood.setSeed(context.seed());
            BatchSource aux = BatchSources.randomBatches(loaded.train().inputs(), loaded.train().targets(),
                    batch, context.seed() ^ AUX_STREAM);
            this.calibration = BatchSources.randomBatches(loaded.train().inputs(), loaded.train().targets(),
                    batch, context.seed() ^ CALIBRATION_STREAM);
            this.opt = FishLeg.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood), aux)
                    .settings(optimizer.fishLeg()).seed(context.seed()).likelihood(likelihood)
                    .warmupData(aux).warmupLoss(NllFunction.of(likelihood)).build();
        }

        List<PruneRow> run() throws IOException {
            try {
                restore();
                if (fineTuneEpochs > 0) {
                    fineTuneStepSize = OptionalDouble.of(fineTuneLr.orElse(opt.getFishLr()));
                    console.printf("fine-tune: %d masked FishLeg steps of step size %s per pruned network%n",
                            fineTuneSteps(), fineTuneStepSize.getAsDouble());
                }
                Evaluation.Metrics base = evaluate();
                rows.add(new PruneRow("dense", 0, 0, "dense", false, base));
                console.printf("%n%-10s %8s %8s %-8s %-10s %10s %9s%n", "method", "sparsity", "measured",
                        "mode", "fine-tuned", "test loss", "accuracy");
                print(rows.get(0));
                for (Method method : methods) {
                    for (double s : sparsities) {
                        prune(method, s, PruningSchedule.oneShot(s), "one-shot");
                        if (gradual > 1) {
                            prune(method, s, new PruningSchedule(s, gradual), "gradual");
                        }
                    }
                }
                return rows;
            } finally {
                opt.close();
                manager.close();
            }
        }

        private void prune(Method method, double sparsity, PruningSchedule schedule, String mode)
                throws IOException {
            restore();
            List<PrunableLayer> layers = PrunableLayer.of(opt);
            Pruner pruner = Pruner.builder().scope(scope)
                    .compensation(method == Method.MAGNITUDE ? Compensation.NONE : compensation).build();
            try (Masks masks = Masks.dense(layers, manager)) {
                IntFunction<InverseFisher> inverse = t -> inverse(method, layers);
                pruner.prune(inverse, schedule, masks, (t, m) -> refine(method));
                recomputeBatchNorm();
                add(method, sparsity, mode, false, masks);
                if (fineTuneEpochs > 0) {
                    fineTune(masks);
                    add(method, sparsity, mode, true, masks);
                }
            }
        }

        private void add(Method method, double sparsity, String mode, boolean fineTuned, Masks masks)
                throws IOException {
            String name = method.name().toLowerCase(Locale.ROOT);
            PruneRow row = new PruneRow(name, sparsity, masks.sparsity(), mode, fineTuned, evaluate());
            rows.add(row);
            print(row);
            if (saveWeights) {
                Path folder = Files.createDirectories(context.out().resolve("weights"));
                Path file = folder.resolve(String.format(Locale.ROOT, "%s-%.2f-%s%s.params", name, sparsity,
                        mode, fineTuned ? "-fine-tuned" : ""));
                try (DataOutputStream os = new DataOutputStream(Files.newOutputStream(file))) {
                    model.saveParameters(os);
                }
            }
        }

        private void print(PruneRow r) {
            console.printf("%-10s %8.2f %8.4f %-8s %-10s %10.4f %9.4f%n", r.method(), r.sparsity(),
                    r.measuredSparsity(), r.mode(), r.fineTuned() ? "yes" : "no", r.testLoss(), r.testAccuracy());
            console.flush();
        }

        private InverseFisher inverse(Method method, List<PrunableLayer> layers) {
            return switch (method) {
                case FISHLEG -> InverseFisher.of(opt, manager);
                case MAGNITUDE -> InverseFisher.identity(layers, manager);
                case KFAC -> {
                    Map<String, Inverses> inv = KroneckerEstimate.dampedInverses(model,
                            DrawFunction.of(likelihood), NllFunction.of(likelihood), calibration,
                            calibrationBatches, kfacDamping, List.of(), List.of(), manager);
                    try {
                        yield InverseFisher.of(layers, inv, manager);
                    } finally {
                        inv.values().forEach(i -> {
                            i.output().close();
                            i.input().close();
                        });
                    }
                }
            };
        }

        /** Between gradual steps: FishLeg refines λ on the pruned network (K-FAC re-estimates anyway). */
        private void refine(Method method) {
            if (method == Method.FISHLEG) {
                for (int i = 0; i < refineSteps; i++) {
                    opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN);
                }
            }
        }

        /** Re-estimates BatchNorm's running statistics on the pruned network (nothing without BatchNorm). */
        private void recomputeBatchNorm() {
            if (bnBatches > 0) {
                BatchSource train = BatchSources.randomBatches(loaded.train().inputs(), loaded.train().targets(),
                        context.budget().batchSize(), context.seed() ^ BATCH_NORM_STREAM);
                BatchNormStatistics.recompute(model, train, bnBatches, manager);
            }
        }

        private long fineTuneSteps() {
            return Math.round(fineTuneEpochs * (loaded.train().size() / context.budget().batchSize()));
        }

        /** Masked FishLeg steps from the restored optimizer state, at the fine-tune's step size. */
        private void fineTune(Masks masks) {
            long steps = fineTuneSteps();
            opt.setFishLr(fineTuneStepSize.orElseThrow());
            MaskedOptimizer masked = new MaskedOptimizer(opt, masks);
            NllFunction nll = NllFunction.of(likelihood);
            BatchSource train = BatchSources.randomBatches(loaded.train().inputs(), loaded.train().targets(),
                    context.budget().batchSize(), context.seed() ^ FINE_TUNE_STREAM);
            for (long t = 0; t < steps; t++) {
                try (NDManager scope = manager.newSubManager()) {
                    LabeledBatch b = train.next(scope);
                    masked.zeroGrad();
                    try (GradientCollector gc = scope.getEngine().newGradientCollector()) {
                        NDArray l = nll.nll(model, b);
                        gc.backward(l);
                    }
                    masked.step();
                }
            }
        }

        private void restore() {
            try {
                String task = LoopState.task(Checkpoint.readMetadata(dense));
                if (task != null && !task.equals(loaded.task().name())) {
                    throw new IllegalArgumentException("--from " + dense + ": a checkpoint of task " + task
                            + ", not of " + loaded.task().name() + "; give --task " + task);
                }
                opt.load(dense);
            } catch (IOException e) {
                throw new IllegalArgumentException("--from " + dense + ": cannot read it (" + e + ")", e);
            }
        }

        private Evaluation.Metrics evaluate() {
            return Evaluation.evaluate(model, likelihood, loaded.test(), loaded.task().isClassifier());
        }
    }
}
