package ai.fishleg.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.AuxSchedule;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Times the training step (forward, backward, optimizer step) of DJL's Adam and of FishLeg (full
 * Kronecker Q, and batchSpeedup) on one network, in one process and interleaved: every round runs
 * one window of steps of each contender (the window is FishLeg's auxiliary period, so each window
 * holds exactly one auxiliary update), then the Qv products alone and a plain matrix product, in an
 * order that rotates from round to round. Rounds after the warm-up give the medians.
 *
 * <p>Reported per contender: the median of (window time / window), so the auxiliary update is
 * amortised as in training. For FishLeg also the time share of the Qv products (timed alone on the
 * optimizer's own blocks), of the auxiliary update (the auxiliary step minus the median of the
 * other steps of its window) and of the rest; FLOPs from the block shapes ({@link Flops}); the
 * achieved GFLOP/s of Qv beside a plain n x n x n product (the machine's ceiling); and the floor:
 * Adam's step plus FishLeg's extra FLOPs at the ceiling.
 */
public final class StepBenchmark {

    /**
     * How long to measure.
     *
     * @param warmupRounds rounds run first and discarded (JIT, allocator, caches)
     * @param rounds measured rounds
     * @param matmulSize n of the n x n x n reference product
     * @param seed seed of the data and of the optimizers
     * @param clock what is timed
     */
    public record Settings(int warmupRounds, int rounds, int matmulSize, long seed, Clock clock) {

        /** Default: 3 warm-up rounds, 15 measured rounds, 1000³ product, wall-clock time. */
        public static final Settings DEFAULT = new Settings(3, 15, 1000, 1, Clock.WALL);

        /** Validates. */
        public Settings {
            if (warmupRounds < 0 || rounds < 1 || matmulSize < 1) {
                throw new IllegalArgumentException(
                        "warm-up rounds must be >= 0, rounds >= 1 and the product size >= 1; got "
                                + warmupRounds + ", " + rounds + ", " + matmulSize);
            }
        }
    }

    /** What the benchmark times. */
    public enum Clock {
        /** Elapsed time (what a user waits for). */
        WALL,
        /**
         * CPU time of the benchmark's thread: with one engine thread (PyTorch then computes on the
         * caller's thread) it counts the work alone, and stays steady while other processes
         * compete for the cores. Not meaningful with more engine threads.
         */
        THREAD_CPU;

        private static final java.lang.management.ThreadMXBean THREADS =
                java.lang.management.ManagementFactory.getThreadMXBean();

        /** @return the current reading in nanoseconds */
        long nanos() {
            return this == WALL ? System.nanoTime() : THREADS.getCurrentThreadCpuTime();
        }
    }

    private static final int POOL_BATCHES = 10;

    private final Workload workload;
    private final Settings settings;
    private final PrintWriter log;
    private final DataType dataType = DataType.FLOAT32;

    /**
     * @param workload the network and batch shape
     * @param settings how long to measure
     * @param log progress lines (or null)
     */
    public StepBenchmark(Workload workload, Settings settings, PrintWriter log) {
        this.workload = workload;
        this.settings = settings;
        this.log = log;
    }

    /**
     * Runs the benchmark.
     *
     * @return the measurements
     */
    public BenchResult run() {
        try (NDManager root = NDManager.newBaseManager()) {
            NDArray inputs = workload.randomInputs(root, POOL_BATCHES, settings.seed(), dataType);
            NDArray targets = workload.targets(inputs, dataType);
            List<LabeledBatch> batches = split(inputs, targets);
            AdamContender adam = new AdamContender(root);
            FishLegContender full = new FishLegContender(root, inputs, targets, false);
            FishLegContender speedup = new FishLegContender(root, inputs, targets, true);
            int window = full.window();
            QvTimer qvFull = new QvTimer(full.optimizer, root);
            MatmulTimer matmul = new MatmulTimer(root, settings.matmulSize());

            int total = settings.warmupRounds() + settings.rounds();
            double[] adamMs = new double[settings.rounds()];
            double[] fullMs = new double[settings.rounds()];
            double[] speedupMs = new double[settings.rounds()];
            double[] fullAuxMs = new double[settings.rounds()];
            double[] speedupAuxMs = new double[settings.rounds()];
            double[] qvMs = new double[settings.rounds()];
            double[] matmulMs = new double[settings.rounds()];
            double[] current = new double[5];
            int[] cursor = {0};
            for (int r = 0; r < total; r++) {
                int m = r - settings.warmupRounds();
                boolean measured = m >= 0;
                Runnable[] parts = {
                    () -> current[0] = record(adamMs, m, adam.window(batches, cursor, window)
                            .perStep()),
                    () -> {
                        Window w = full.window(batches, cursor, window);
                        current[1] = record(fullMs, m, w.perStep());
                        record(fullAuxMs, m, w.auxPerStep());
                    },
                    () -> {
                        Window w = speedup.window(batches, cursor, window);
                        current[2] = record(speedupMs, m, w.perStep());
                        record(speedupAuxMs, m, w.auxPerStep());
                    },
                    () -> {
                        current[3] = record(qvMs, m, qvFull.time());
                    },
                    () -> current[4] = record(matmulMs, m, matmul.time()),
                };
                for (int i = 0; i < parts.length; i++) {
                    parts[(i + r) % parts.length].run();
                }
                if (log != null) {
                    log.printf("%s round %d/%d: adam %.1f ms, fishleg %.1f ms, speedup %.1f ms,"
                                    + " qv %.1f ms, matmul %.2f ms%n",
                            measured ? "measured" : "warm-up", measured ? m + 1 : r + 1,
                            measured ? settings.rounds() : settings.warmupRounds(),
                            current[0], current[1], current[2], current[3], current[4]);
                }
            }
            List<CurvatureBlock> blocks = full.optimizer.getBlocks();
            List<CurvatureBlock> speedupBlocks = speedup.optimizer.getBlocks();
            long n = workload.batchSize();
            BenchResult.Flop flops = new BenchResult.Flop(
                    Flops.forwardBackward(blocks, n),
                    Flops.qv(blocks, n),
                    (Flops.auxCurvature(blocks, n) + Flops.auxModelPasses(blocks, n)) / window,
                    Flops.qv(speedupBlocks, n),
                    (Flops.auxCurvature(speedupBlocks, n) + Flops.auxModelPasses(speedupBlocks, n))
                            / window);
            BenchResult result = BenchResult.of(
                    workload.name(), settings, window, MachineInfo.read(),
                    new BenchResult.Raw(adamMs, fullMs, speedupMs, fullAuxMs, speedupAuxMs, qvMs,
                            matmulMs),
                    flops, settings.matmulSize());
            adam.close();
            full.close();
            speedup.close();
            return result;
        }
    }

    /** Stores a measured round's value (warm-up rounds are not stored) and returns it. */
    private static double record(double[] into, int m, double value) {
        if (m >= 0) {
            into[m] = value;
        }
        return value;
    }

    private List<LabeledBatch> split(NDArray inputs, NDArray targets) {
        NDList xs = inputs.split(POOL_BATCHES);
        NDList ys = targets.split(POOL_BATCHES);
        List<LabeledBatch> out = new ArrayList<>();
        for (int i = 0; i < POOL_BATCHES; i++) {
            out.add(LabeledBatch.of(xs.get(i), ys.get(i)));
        }
        return out;
    }

    private Block newModel(NDManager manager) {
        Block model = workload.model().get();
        manager.getEngine().setRandomSeed(Math.toIntExact(settings.seed()));
        workload.init().initialize(model, manager, dataType, workload.inputShape(), settings.seed());
        return model;
    }

    /** Times of one window of steps. */
    private record Window(double[] stepMs) {
        double perStep() {
            return Arrays.stream(stepMs).sum() / stepMs.length;
        }

        /** The auxiliary step (the first) beyond the median of the others, per step. */
        double auxPerStep() {
            double[] rest = Arrays.copyOfRange(stepMs, 1, stepMs.length);
            return (stepMs[0] - BenchResult.median(rest)) / stepMs.length;
        }
    }

    /** One network and its optimizer, trained one step at a time. */
    private abstract class Contender implements AutoCloseable {
        final NDManager manager;
        final Block model;
        final NllFunction nll;

        Contender(NDManager parent) {
            this.manager = parent.newSubManager();
            this.model = newModel(manager);
            this.nll = NllFunction.of(workload.likelihood().get());
        }

        /** Runs {@code steps} steps on batches taken in turn from the pool. */
        Window window(List<LabeledBatch> batches, int[] cursor, int steps) {
            double[] ms = new double[steps];
            for (int s = 0; s < steps; s++) {
                LabeledBatch batch = batches.get(cursor[0]++ % batches.size());
                long t0 = settings.clock().nanos();
                step(batch);
                ms[s] = (settings.clock().nanos() - t0) / 1e6;
            }
            return new Window(ms);
        }

        /** One training step: forward, backward, optimizer. */
        final void step(LabeledBatch batch) {
            try (Scope scope = Scope.open(manager)) {
                scope.use(batch.data());
                scope.use(batch.labels());
                beforeBackward();
                try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
                    gc.backward(nll.nll(model, batch));
                }
                update(scope);
            }
        }

        abstract void beforeBackward();

        abstract void update(Scope scope);

        @Override
        public void close() {
            manager.close();
        }
    }

    /** DJL's Adam (its fused PyTorch update), as a DJL Trainer would call it. */
    private final class AdamContender extends Contender {
        private final Optimizer adam =
                Optimizer.adam().optLearningRateTracker(Tracker.fixed(1e-3f)).build();
        private final List<Pair<String, Parameter>> parameters = new ArrayList<>();

        AdamContender(NDManager parent) {
            super(parent);
            for (Pair<String, Parameter> p : model.getParameters()) {
                if (p.getValue().requiresGradient()) {
                    parameters.add(p);
                }
            }
        }

        @Override
        void beforeBackward() {
            // DJL's Adam zeroes each gradient after using it.
        }

        @Override
        void update(Scope scope) {
            for (Pair<String, Parameter> p : parameters) {
                NDArray w = p.getValue().getArray();
                adam.update(p.getValue().getId(), w, scope.own(w.getGradient()));
            }
        }
    }

    /** FishLeg with the task's settings, full Q or batchSpeedup. */
    private final class FishLegContender extends Contender {
        final FishLeg optimizer;

        FishLegContender(NDManager parent, NDArray inputs, NDArray targets, boolean batchSpeedup) {
            super(parent);
            FishLikelihood likelihood = workload.likelihood().get();
            FishLeg.Builder b = FishLeg.builder(
                            model,
                            DrawFunction.of(likelihood),
                            NllFunction.of(likelihood),
                            BatchSources.randomBatches(
                                    inputs, targets, Math.toIntExact(workload.batchSize()),
                                    settings.seed()));
            b = workload.fishLeg().apply(b); // every setting: the seed and the form come after
            this.optimizer = b.likelihood(likelihood).seed(settings.seed())
                    .batchSpeedup(batchSpeedup).full(true).build();
        }

        int window() {
            if (optimizer.getHyperparameters().auxSchedule()
                    instanceof AuxSchedule.Periodic periodic) {
                return periodic.every();
            }
            throw new IllegalArgumentException(
                    "the benchmark needs auxiliary updates every k > 0 steps; the task sets"
                            + " updateAuxEvery = " + optimizer.getHyperparameters().updateAuxEvery());
        }

        @Override
        Window window(List<LabeledBatch> batches, int[] cursor, int steps) {
            if (optimizer.getStepCount() % steps != 0) {
                throw new IllegalStateException("window not aligned with the auxiliary period");
            }
            return super.window(batches, cursor, steps);
        }

        @Override
        void beforeBackward() {
            optimizer.zeroGrad();
        }

        @Override
        void update(Scope scope) {
            optimizer.step();
        }

        @Override
        public void close() {
            optimizer.close();
            super.close();
        }
    }

    /** The Qv products of every block of an optimizer, on random vectors shaped like its gradient. */
    private final class QvTimer {
        private final List<CurvatureBlock> blocks;
        private final List<NDList> vectors = new ArrayList<>();
        private final NDManager manager;

        QvTimer(FishLeg optimizer, NDManager parent) {
            this.blocks = optimizer.getBlocks();
            this.manager = parent.newSubManager();
            for (CurvatureBlock b : blocks) {
                NDList v = new NDList();
                for (NDArray p : b.getParameterArrays()) {
                    v.add(manager.randomNormal(p.getShape(), p.getDataType()));
                }
                vectors.add(v);
            }
        }

        /** @return milliseconds of one Qv over all blocks (median of three) */
        double time() {
            double[] ms = new double[3];
            for (int r = 0; r < ms.length; r++) {
                try (NDManager scope = manager.newSubManager()) {
                    long t0 = settings.clock().nanos();
                    for (int i = 0; i < blocks.size(); i++) {
                        NDList out = blocks.get(i).qv(vectors.get(i));
                        out.attach(scope);
                    }
                    ms[r] = (settings.clock().nanos() - t0) / 1e6;
                }
            }
            return BenchResult.median(ms);
        }
    }

    /** A plain float32 n x n x n matrix product through DJL: the machine's ceiling. */
    private final class MatmulTimer {
        private final NDArray a;
        private final NDArray b;

        MatmulTimer(NDManager manager, int n) {
            a = manager.randomNormal(new Shape(n, n), DataType.FLOAT32);
            b = manager.randomNormal(new Shape(n, n), DataType.FLOAT32);
        }

        /** @return milliseconds of one product (median of five) */
        double time() {
            double[] ms = new double[5];
            for (int r = 0; r < ms.length; r++) {
                long t0 = settings.clock().nanos();
                try (NDArray c = a.matMul(b)) {
                    ms[r] = (settings.clock().nanos() - t0) / 1e6;
                }
            }
            return BenchResult.median(ms);
        }
    }

    /** The engine this benchmark runs on. */
    static String engine() {
        Engine e = Engine.getInstance();
        return e.getEngineName() + " " + e.getVersion() + " (DJL " + Engine.getDjlVersion() + ")";
    }
}
