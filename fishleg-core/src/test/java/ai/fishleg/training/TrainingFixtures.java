package ai.fishleg.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.metric.Metric;
import ai.djl.metric.Metrics;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.listener.TrainingListener;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.translate.TranslateException;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.AuxInfo;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import org.assertj.core.data.Offset;

/** Data, models and the hand-written reference loop shared by the EasyTrain tests. */
final class TrainingFixtures {

    /** Float32 runs of the same operations in the same order agree to rounding. */
    static final double TOLERANCE = 1e-5;

    private TrainingFixtures() {}

    /**
     * Three Gaussian blobs in 4-D with one-hot labels, from a fixed seed.
     *
     * @return {inputs (n, 4), one-hot targets (n, 3)}, float32
     */
    static NDArray[] blobs(NDManager manager, int n, long seed) {
        Rng rng = new Rng(seed);
        double[][] centres = {{2, 0, 1, 0}, {-1, 2, 0, 1}, {-1, -2, -1, 0}};
        double[] x = new double[n * 4];
        double[] y = new double[n * 3];
        for (int i = 0; i < n; i++) {
            int c = rng.nextInt(3);
            y[i * 3 + c] = 1;
            for (int j = 0; j < 4; j++) {
                x[i * 4 + j] = centres[c][j] + 0.8 * rng.nextGaussian();
            }
        }
        return new NDArray[] {
            Tensors.create(manager, x, new Shape(n, 4), DataType.FLOAT32),
            Tensors.create(manager, y, new Shape(n, 3), DataType.FLOAT32)
        };
    }

    /**
     * A regression task: y = sin(x·a) + noise in 2 outputs.
     *
     * @return {inputs (n, 3), targets (n, 2)}, float32
     */
    static NDArray[] regression(NDManager manager, int n, long seed) {
        Rng rng = new Rng(seed);
        double[] x = new double[n * 3];
        double[] y = new double[n * 2];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < 3; j++) {
                x[i * 3 + j] = rng.nextGaussian();
                s += (j + 1) * 0.5 * x[i * 3 + j];
            }
            y[i * 2] = Math.sin(s) + 0.3 * rng.nextGaussian();
            y[i * 2 + 1] = Math.cos(s) + 0.3 * rng.nextGaussian();
        }
        return new NDArray[] {
            Tensors.create(manager, x, new Shape(n, 3), DataType.FLOAT32),
            Tensors.create(manager, y, new Shape(n, 2), DataType.FLOAT32)
        };
    }

    /** A dataset read in order (no shuffling), so that two runs see the same batches. */
    static ArrayDataset inOrder(NDArray[] xy, int batchSize) {
        return new ArrayDataset.Builder()
                .setData(xy[0])
                .optLabels(xy[1])
                .setSampling(batchSize, false)
                .build();
    }

    /**
     * A training config with FishLeg's loss, optimizer and evaluators, one CPU device and DJL's
     * basic listeners (epochs, evaluators, divergence check).
     */
    static DefaultTrainingConfig config(FishLegOptimizer fishLeg) {
        return new DefaultTrainingConfig(fishLeg.getLoss())
                .optOptimizer(fishLeg)
                .optDevices(new Device[] {Device.cpu()})
                .addEvaluators(fishLeg.getEvaluators())
                .addTrainingListeners(TrainingListener.Defaults.basic());
    }

    /** @return every parameter's values by DJL name, in model order */
    static Map<String, double[]> snapshot(Block block) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            out.put(p.getKey(), Dense.values(p.getValue().getArray()));
        }
        return out;
    }

    /** Writes a snapshot into an identically built, initialised block. */
    static void load(Block block, Map<String, double[]> values) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            NDArray a = p.getValue().getArray();
            double[] v = values.get(p.getKey());
            try (NDArray src = Tensors.create(a.getManager(), v, a.getShape(), a.getDataType())) {
                Tensors.assign(a, src);
            }
        }
    }

    static void assertSameParameters(
            Map<String, double[]> actual, Map<String, double[]> expected, String what) {
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        for (String name : expected.keySet()) {
            assertThat(Dense.relError(actual.get(name), expected.get(name)))
                    .as(what + ": " + name)
                    .isLessThanOrEqualTo(TOLERANCE);
        }
    }

    /**
     * One training problem, run once through EasyTrain and once through the hand-written loop.
     *
     * @param net builds the (uninitialised) network; called once per run
     * @param likelihood creates the likelihood, its parameters (if any) in the given manager
     * @param data creates the inputs and targets in the given manager (the same on every call)
     * @param inputShape input shape for initialisation
     * @param settings FishLeg's settings, given the run's likelihood and training dataset
     * @param epochs passes over the data
     * @param unmanagedOptimizer creates the DJL optimizer of unmanaged parameters (one per run),
     *     or null to leave them alone
     * @param initialiseFirst initialise the model before building FishLegOptimizer (FishLeg is
     *     then built at once) instead of with trainer.initialize (built at the first step)
     */
    record Case(
            Supplier<Block> net,
            Function<NDManager, FishLikelihood> likelihood,
            Function<NDManager, NDArray[]> data,
            Shape inputShape,
            BiFunction<FishLikelihood, ArrayDataset, Consumer<FishLeg.Builder>> settings,
            int epochs,
            Supplier<Optimizer> unmanagedOptimizer,
            boolean initialiseFirst) {}

    /**
     * What a run left.
     *
     * @param initial the parameters before training
     * @param trained the parameters after training
     * @param likelihoodParameters values of the likelihood's learnable parameters after training
     * @param managed the layers FishLeg managed
     * @param steps FishLeg steps taken
     * @param auxUpdates auxiliary updates taken
     * @param metrics the trainer's metrics (EasyTrain run only)
     * @param auxInfos per epoch, the last auxiliary update of each step (hand-written run only)
     */
    record Run(
            Map<String, double[]> initial,
            Map<String, double[]> trained,
            List<double[]> likelihoodParameters,
            List<String> managed,
            long steps,
            long auxUpdates,
            Metrics metrics,
            List<List<AuxInfo>> auxInfos) {}

    static final int BATCH = 16;
    static final long AUX_SEED = 99;

    /** Trains through DJL: Trainer, FishLegOptimizer in the config, EasyTrain.fit. */
    static Run easyTrain(Case c) throws IOException, TranslateException {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("easytrain")) {
            ArrayDataset data = inOrder(c.data().apply(manager), BATCH);
            model.setBlock(c.net().get());
            if (c.initialiseFirst()) {
                model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, c.inputShape());
            }
            FishLikelihood likelihood = c.likelihood().apply(model.getNDManager());
            FishLegOptimizer.Builder b =
                    FishLegOptimizer.builder(
                                    model,
                                    likelihood,
                                    BatchSources.randomBatches(data, BATCH, AUX_SEED))
                            .configure(c.settings().apply(likelihood, data));
            if (c.unmanagedOptimizer() != null) {
                b.trainUnmanagedWith(c.unmanagedOptimizer().get());
            } else {
                b.leaveUnmanagedAlone();
            }
            try (FishLegOptimizer fishLeg = b.build();
                    Trainer trainer = model.newTrainer(config(fishLeg))) {
                Metrics metrics = new Metrics();
                trainer.setMetrics(metrics);
                trainer.initialize(c.inputShape());
                Map<String, double[]> initial = snapshot(model.getBlock());
                EasyTrain.fit(trainer, c.epochs(), data, null);
                FishLeg f = fishLeg.getFishLeg();
                return new Run(
                        initial,
                        snapshot(model.getBlock()),
                        values(likelihood.getParameters()),
                        f.managedNames(),
                        f.getStepCount(),
                        f.getAuxUpdateCount(),
                        metrics,
                        null);
            }
        }
    }

    /**
     * The hand-written loop of the core API from the given initial parameters: {@code
     * opt.zeroGrad(); gc.backward(nll); opt.step();}, then the case's DJL optimizer (if any)
     * updates the unmanaged parameters with the gradients of the backward pass.
     */
    static Run handWritten(Case c, Map<String, double[]> initial)
            throws IOException, TranslateException {
        try (NDManager manager = NDManager.newBaseManager()) {
            ArrayDataset data = inOrder(c.data().apply(manager), BATCH);
            Block block = c.net().get();
            block.initialize(manager, DataType.FLOAT32, c.inputShape());
            load(block, initial);
            FishLikelihood likelihood = c.likelihood().apply(manager);
            NllFunction nll = NllFunction.of(likelihood);
            FishLeg.Builder b =
                    FishLeg.builder(
                                    block,
                                    DrawFunction.of(likelihood),
                                    nll,
                                    BatchSources.randomBatches(data, BATCH, AUX_SEED))
                            .likelihood(likelihood);
            c.settings().apply(likelihood, data).accept(b);
            try (FishLeg opt = b.build()) {
                Supplier<Optimizer> others = c.unmanagedOptimizer();
                Optimizer other = others == null ? null : others.get();
                List<Parameter> unmanaged = new ArrayList<>();
                for (String name : opt.getUnmanagedParameters()) {
                    unmanaged.add(block.getParameters().get(name));
                }
                List<List<AuxInfo>> infos = new ArrayList<>();
                for (int e = 0; e < c.epochs(); e++) {
                    infos.add(epoch(opt, nll, data, manager, other, unmanaged));
                }
                return new Run(
                        initial,
                        snapshot(block),
                        values(likelihood.getParameters()),
                        opt.managedNames(),
                        opt.getStepCount(),
                        opt.getAuxUpdateCount(),
                        null,
                        infos);
            }
        }
    }

    /** One pass of the hand-written loop; returns the auxiliary updates' infos. */
    private static List<AuxInfo> epoch(
            FishLeg opt,
            NllFunction nll,
            ArrayDataset data,
            NDManager manager,
            Optimizer other,
            List<Parameter> unmanaged)
            throws IOException, TranslateException {
        List<AuxInfo> infos = new ArrayList<>();
        for (Batch batch : data.getData(manager)) {
            try (NDManager scope = manager.newSubManager()) {
                opt.zeroGrad();
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(opt.getModel(), LabeledBatch.of(batch)));
                }
                // The other optimizer's gradients, copied before FishLeg's auxiliary passes.
                List<NDArray> grads = new ArrayList<>();
                for (Parameter p : unmanaged) {
                    NDArray g = p.getArray().getGradient().duplicate();
                    g.attach(scope);
                    grads.add(g);
                }
                long auxBefore = opt.getAuxUpdateCount();
                opt.step();
                if (opt.getAuxUpdateCount() > auxBefore) {
                    infos.add(opt.getLastAuxInfo());
                }
                if (other != null) {
                    for (int i = 0; i < unmanaged.size(); i++) {
                        Parameter p = unmanaged.get(i);
                        other.update(p.getId(), p.getArray(), grads.get(i));
                    }
                }
            } finally {
                batch.close();
            }
        }
        return infos;
    }

    private static List<double[]> values(List<NDArray> arrays) {
        List<double[]> out = new ArrayList<>();
        for (NDArray a : arrays) {
            out.add(Dense.values(a));
        }
        return out;
    }

    /**
     * Checks that DJL's evaluator listener recorded, for every epoch, the mean of an auxiliary
     * quantity over that epoch's auxiliary updates of the reference run.
     */
    static void assertEpochMeans(
            Metrics metrics,
            String evaluator,
            List<List<AuxInfo>> reference,
            ToDoubleFunction<AuxInfo> quantity) {
        String name = "train_epoch_" + evaluator;
        List<Metric> recorded = metrics.getMetric(name);
        assertThat(recorded).as(name).hasSize(reference.size());
        for (int e = 0; e < reference.size(); e++) {
            double expected =
                    reference.get(e).stream().mapToDouble(quantity).average().orElse(Double.NaN);
            double actual = recorded.get(e).getValue();
            assertThat(actual)
                    .as(name + " epoch " + e)
                    .isCloseTo(expected, Offset.offset(1e-4 * Math.max(1, Math.abs(expected))));
        }
    }
}
