package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.LayerModels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Optimizer-level options on models with every layer type: the warm-up sets Q0 = s·I (warmup 0)
 * or diag(Q0) = s²/(g² + γ) from independently computed squared gradients (warmup > 0) for every
 * block, and neither the warm-up nor {@code pretrainFish} moves BatchNorm's running statistics;
 * {@code full = false} freezes A; {@code initialization} re-initialises linear layers only.
 */
class LayerOptionsTest {

    /** A model with some layer types, and data for it. */
    record ModelCase(String label, BiFunction<NDManager, DataType, SequentialBlock> model,
            BiFunction<NDManager, Integer, LabeledBatch> data) {
        @Override
        public String toString() {
            return label;
        }
    }

    static Stream<ModelCase> models() {
        return Stream.of(
                new ModelCase("Conv2d + BatchNorm + Linear", LayerModels::cnn,
                        (m, n) -> LayerModels.images(m, n, DataType.FLOAT64, new Rng(n))),
                new ModelCase("Embedding + LayerNorm + Linear", LayerModels::embeddingModel,
                        (m, n) -> LayerModels.tokens(m, n, DataType.FLOAT64, new Rng(n))));
    }

    static FishLeg.Builder builder(SequentialBlock model, LabeledBatch aux) {
        SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
        return FishLeg.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                BatchSources.cycle(List.of(aux)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void warmupWithoutDataStartsEveryBlockAtScaledIdentity(ModelCase c) {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = c.model().apply(m, DataType.FLOAT64);
            double s = 3.0;
            try (FishLeg opt = builder(model, c.data().apply(m, 8)).scale(s).build()) {
                Rng rng = new Rng(1);
                for (CurvatureBlock block : opt.getBlocks()) {
                    NDList v = new NDList();
                    for (NDArray p : block.getParameterArrays()) {
                        v.add(Tensors.create(m, rng.gaussians(Math.toIntExact(p.size())),
                                p.getShape(), DataType.FLOAT64));
                    }
                    double[] expected = Dense.flatten(v);
                    for (int i = 0; i < expected.length; i++) {
                        expected[i] *= s;
                    }
                    assertThat(Dense.relError(Dense.flatten(block.qv(v)), expected))
                            .as(block + ": Q0 v = s v").isLessThan(1e-14);
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void diagonalWarmupUsesMeanSquaredGradientsForEveryBlockAndKeepsRunningStatistics(ModelCase c) {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = c.model().apply(m, DataType.FLOAT64);
            List<LabeledBatch> batches = List.of(c.data().apply(m, 16), c.data().apply(m, 17));
            SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
            NllFunction nll = NllFunction.of(likelihood);
            double s = 1.5;
            double gamma = 0.3;
            int examples = 30; // ceil(30 / 16) = 2 batches

            // Independent: mean over the two batches of the squared gradients.
            List<double[]> g2 = new ArrayList<>();
            for (LabeledBatch b : batches) {
                zeroGradients(model);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(model, b));
                }
                int k = 0;
                for (Pair<String, Parameter> p : model.getParameters()) {
                    if (!p.getValue().requiresGradient()) {
                        continue;
                    }
                    double[] g = Dense.values(p.getValue().getArray().getGradient());
                    if (g2.size() <= k) {
                        g2.add(new double[g.length]);
                    }
                    for (int i = 0; i < g.length; i++) {
                        g2.get(k)[i] += g[i] * g[i] / batches.size();
                    }
                    k++;
                }
            }
            zeroGradients(model);
            List<double[]> state = statistics(model);

            try (FishLeg opt = builder(model, batches.get(0)).scale(s).damping(gamma)
                    .warmup(examples).warmupData(BatchSources.cycle(batches)).warmupLoss(nll)
                    .build()) {
                List<double[]> after = statistics(model);
                for (int i = 0; i < state.size(); i++) {
                    assertThat(after.get(i)).as("running statistics after the warm-up")
                            .containsExactly(state.get(i));
                }
                int k = 0;
                for (CurvatureBlock block : opt.getBlocks()) {
                    NDList diag = block.diagQ();
                    for (int i = 0; i < diag.size(); i++, k++) {
                        double[] expected = g2.get(k).clone();
                        for (int j = 0; j < expected.length; j++) {
                            expected[j] = s * s / (expected[j] + gamma);
                        }
                        assertThat(Dense.relError(Dense.values(diag.get(i)), expected))
                                .as(block + " " + block.getOrder().get(i)
                                        + ": diag(Q0) = s²/(g² + γ)").isLessThan(1e-12);
                    }
                }
                assertThat(k).isEqualTo(g2.size());

                opt.pretrainFish(BatchSources.cycle(batches), nll, 3);
                List<double[]> afterPretrain = statistics(model);
                for (int i = 0; i < state.size(); i++) {
                    assertThat(afterPretrain.get(i)).as("running statistics after pretrainFish")
                            .containsExactly(state.get(i));
                }
            }
        }
    }

    @Test
    void fullFalseFreezesTheDiagonalRescalingA() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = LayerModels.cnn(m, DataType.FLOAT64);
            LabeledBatch batch = LayerModels.images(m, 16, DataType.FLOAT64, new Rng(2));
            NllFunction nll = NllFunction.of(new SoftMaxLikelihood());
            try (FishLeg opt = builder(model, batch).full(false).scale(2).updateAuxEvery(1)
                    .auxLr(1e-2).build()) {
                List<KroneckerBlock> kron = new ArrayList<>();
                List<double[]> aBefore = new ArrayList<>();
                List<double[]> lBefore = new ArrayList<>();
                for (CurvatureBlock b : opt.getBlocks()) {
                    if (b instanceof KroneckerBlock k) {
                        assertThat(k.isTrainable(KroneckerBlock.A)).isFalse();
                        kron.add(k);
                        aBefore.add(Dense.values(k.getA()));
                        lBefore.add(Dense.values(k.getL()));
                    }
                }
                assertThat(kron).hasSize(2);
                for (int step = 0; step < 3; step++) {
                    EstimatorTest.trainStep(opt, nll, batch);
                }
                for (int i = 0; i < kron.size(); i++) {
                    assertThat(Dense.values(kron.get(i).getA())).as("A frozen at √s")
                            .containsExactly(aBefore.get(i));
                    assertThat(aBefore.get(i)[0]).isCloseTo(Math.sqrt(2), offset(1e-15));
                    assertThat(Dense.relError(Dense.values(kron.get(i).getL()), lBefore.get(i)))
                            .as("L is learned").isGreaterThan(1e-4);
                }
            }
        }
    }

    @Test
    void initializationReinitialisesLinearLayersOnly() {
        try (NDManager m = NDManager.newBaseManager()) {
            LabeledBatch batch = LayerModels.images(m, 4, DataType.FLOAT64, new Rng(3));
            SequentialBlock zeroModel = LayerModels.cnn(m, DataType.FLOAT64);
            double[] convBefore = Dense.values(LayerTrainingTest.parameter(zeroModel,
                    "01Conv2d_weight").getArray());
            try (FishLeg opt = builder(zeroModel, batch).initialization("zero").build()) {
                assertThat(Dense.values(LayerTrainingTest.parameter(zeroModel, "06Linear_weight")
                        .getArray())).containsOnly(0.0);
                assertThat(Dense.values(LayerTrainingTest.parameter(zeroModel, "06Linear_bias")
                        .getArray())).containsOnly(0.0);
                assertThat(Dense.values(LayerTrainingTest.parameter(zeroModel, "01Conv2d_weight")
                        .getArray())).containsExactly(convBefore);
            }

            Linear wide = Linear.builder().setUnits(400).build();
            wide.initialize(m, DataType.FLOAT64, new Shape(1, 25));
            NDArray biasBefore = wide.getParameters().get("bias").getArray().duplicate();
            SequentialBlock normalModel = new SequentialBlock().add(wide);
            try (FishLeg opt = builder(normalModel, LabeledBatch.of(m.ones(new Shape(2, 25),
                    DataType.FLOAT64), m.zeros(new Shape(2, 400), DataType.FLOAT64)))
                    .initialization(Initialization.NORMAL).seed(5).build()) {
                double[] w = Dense.values(wide.getParameters().get("weight").getArray());
                double mean = 0;
                double sq = 0;
                for (double x : w) {
                    mean += x / w.length;
                    sq += x * x / w.length;
                }
                // 10,000 draws of N(0, 1/25): std 0.2, so the sample std is 0.2 ± 0.0015.
                assertThat(Math.sqrt(sq - mean * mean)).isCloseTo(0.2, offset(0.006));
                assertThat(mean).isCloseTo(0, offset(0.008));
                assertThat(Dense.values(wide.getParameters().get("bias").getArray()))
                        .as("bias kept").containsExactly(Dense.values(biasBefore));
            }
        }
    }

    @Test
    void checkpointResumesACnnWithAntitheticGaussianUpdatesExactly(@TempDir Path dir)
            throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            List<LabeledBatch> batches = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                batches.add(LayerModels.images(m, 8, DataType.FLOAT64, new Rng(100 + i)));
            }
            LabeledBatch pool = LayerModels.images(m, 64, DataType.FLOAT64, new Rng(7));
            NllFunction nll = NllFunction.of(new SoftMaxLikelihood());
            Path file = dir.resolve("cnn.ckpt");
            List<double[]> resumed;
            List<double[]> straight;
            try (FishLeg a = cnnOptimizer(m, pool)) {
                for (int i = 0; i < 3; i++) {
                    EstimatorTest.trainStep(a, nll, batches.get(i));
                }
                a.save(file);
                for (int i = 3; i < 6; i++) {
                    EstimatorTest.trainStep(a, nll, batches.get(i));
                }
                straight = allValues(a);
            }
            try (FishLeg b = cnnOptimizer(m, pool)) {
                b.load(file);
                for (int i = 3; i < 6; i++) {
                    EstimatorTest.trainStep(b, nll, batches.get(i));
                }
                resumed = allValues(b);
            }
            assertThat(resumed).hasSameSizeAs(straight);
            for (int i = 0; i < straight.size(); i++) {
                assertThat(resumed.get(i)).as("tensor %d", i).containsExactly(straight.get(i));
            }
        }
    }

    private static FishLeg cnnOptimizer(NDManager m, LabeledBatch pool) {
        SequentialBlock model = LayerModels.cnn(m, DataType.FLOAT64);
        SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
        likelihood.setSeed(9);
        return FishLeg.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                        BatchSources.randomBatches(pool.input(), pool.label(), 8, 3))
                .updateAuxEvery(1).auxLr(1e-2).estimator(Estimator.ANTITHETIC)
                .uSampling(USampling.GAUSSIAN).preconditionAux(true).build();
    }

    /** Every model parameter (running statistics included) and every λ. */
    private static List<double[]> allValues(FishLeg opt) {
        List<double[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : opt.getModel().getParameters()) {
            out.add(Dense.values(p.getValue().getArray()));
        }
        for (CurvatureBlock b : opt.getBlocks()) {
            for (NDArray a : b.getAuxParameters().values()) {
                out.add(Dense.values(a));
            }
        }
        return out;
    }

    // --------------------------------------------------------------------------------------

    static void zeroGradients(Block model) {
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient()) {
                Tensors.zero(p.getValue().getArray().getGradient());
            }
        }
    }

    /** Values of every parameter that requires no gradient (BatchNorm's running statistics). */
    static List<double[]> statistics(Block model) {
        List<double[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (!p.getValue().requiresGradient()) {
                out.add(Dense.values(p.getValue().getArray()));
            }
        }
        return out;
    }
}
