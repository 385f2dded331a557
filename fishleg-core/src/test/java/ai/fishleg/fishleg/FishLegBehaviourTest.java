package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The optimizer's contract: settings, schedules, layer selection and every bad-input case. */
class FishLegBehaviourTest {

    NDManager m;
    Rng rng;
    FishLikelihood lik;
    NllFunction nll;
    NDArray x;
    NDArray y;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
        rng = new Rng(3);
        lik = new FixedGaussianLikelihood(1.0);
        nll = NllFunction.of(lik);
        x = Models.gaussian(m, rng, 64, 3, DataType.FLOAT64);
        y = Models.gaussian(m, rng, 64, 2, DataType.FLOAT64);
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    FishLeg.Builder builder(Block model) {
        return FishLeg.builder(model, DrawFunction.of(lik), nll, BatchSources.randomBatches(x, y, 16, 9));
    }

    LabeledBatch batch(int i) {
        return LabeledBatch.of(x.get(i * 16 + ":" + (i + 1) * 16), y.get(i * 16 + ":" + (i + 1) * 16));
    }

    /**
     * On an auxiliary step the natural gradient is Q(λ)u with the λ left by the update. When the
     * update does not move λ (auxiliary learning rate 0) the step reuses the update's own V = Q(λ)u;
     * when it does, V is stale and must not be reused. Either way the momentum must grow by
     * (1−β)·Q(λ_after)u, computed here independently with the block's qv.
     */
    @ParameterizedTest
    @ValueSource(doubles = {0.0, 1e-2})
    void auxiliaryStepAppliesQOfTheUpdatedLambdaToTheStoredGradient(double auxLr) {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 4, 2);
        double beta = 0.9;
        try (FishLeg opt = builder(model).auxLr(auxLr).updateAuxEvery(1).beta(beta).fishLr(0.01)
                .build()) {
            for (int step = 0; step < 3; step++) {
                java.util.Map<String, double[][]> before = new java.util.HashMap<>();
                for (CurvatureBlock b : opt.getBlocks()) {
                    NDList mom = opt.getMomentum(b.getName());
                    before.put(b.getName(), new double[][] {
                        mom.get(0).toDoubleArray(), mom.get(1).toDoubleArray()});
                }
                java.util.Map<String, double[]> lambda = new java.util.HashMap<>();
                for (CurvatureBlock b : opt.getBlocks()) {
                    lambda.put(b.getName(), b.getAuxParameters().get(KroneckerBlock.L)
                            .toDoubleArray());
                }
                Models.trainStep(opt, model, nll, batch(step));
                for (CurvatureBlock b : opt.getBlocks()) {
                    boolean moved = !java.util.Arrays.equals(lambda.get(b.getName()),
                            b.getAuxParameters().get(KroneckerBlock.L).toDoubleArray());
                    assertThat(moved).as("λ moved").isEqualTo(auxLr != 0);
                    try (NDManager s = m.newSubManager()) {
                        NDList u = opt.getStoredGradient(b.getName());
                        NDList q = b.qv(u);
                        q.attach(s);
                        NDList mom = opt.getMomentum(b.getName());
                        for (int i = 0; i < 2; i++) {
                            double[] expected = before.get(b.getName())[i].clone();
                            double[] qv = q.get(i).toDoubleArray();
                            for (int j = 0; j < expected.length; j++) {
                                expected[j] = beta * expected[j] + (1 - beta) * qv[j];
                            }
                            assertThat(mom.get(i).toDoubleArray())
                                    .as("%s momentum %d at step %d", b.getName(), i, step)
                                    .containsExactly(expected, org.assertj.core.data.Offset
                                            .offset(1e-12));
                        }
                    }
                }
            }
        }
    }

    @Test
    void badHyperparametersNameTheSettingTheValueAndTheRange() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        record Case(Consumer<FishLeg.Builder> set, String... words) {}
        List<Case> cases = List.of(
                new Case(b -> b.fishLr(-1), "fishLr", "-1", ">= 0"),
                new Case(b -> b.damping(Double.NaN), "damping", "NaN"),
                new Case(b -> b.weightDecay(-1e-3), "weightDecay", ">= 0"),
                new Case(b -> b.beta(1.0), "beta", "[0, 1)"),
                new Case(b -> b.auxLr(Double.POSITIVE_INFINITY), "auxLr", "Infinity"),
                new Case(b -> b.auxBetas(0.9, 1.5), "auxBetas[1]", "1.5"),
                new Case(b -> b.auxEps(-1), "auxEps"),
                new Case(b -> b.numSteps(-5), "numSteps", "-5"),
                new Case(b -> b.scale(0), "scale", "> 0"),
                new Case(b -> b.warmup(-1), "warmup", "-1"),
                new Case(b -> b.moduleNames("01Linear.weight"), "01Linear.weight", "whole"),
                new Case(b -> b.config(new Object()), "config", "BERT"),
                new Case(b -> b.initialization("gaussian"), "initialization", "gaussian"));
        for (Case c : cases) {
            assertThatThrownBy(() -> {
                FishLeg.Builder b = builder(model);
                c.set().accept(b);
                b.build().close();
            }).isInstanceOf(IllegalArgumentException.class).message().contains(c.words());
        }
    }

    @Test
    void warmupNeedsDataAndLoss() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        assertThatThrownBy(() -> builder(model).warmup(32).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("warmupData").hasMessageContaining("warmupLoss");
        assertThatThrownBy(() -> builder(model).warmup(32).warmupLoss(nll).build())
                .hasMessageContaining("warmupData");
    }

    @Test
    void aModelWithNoManageableLayerIsRejected() {
        Block model = new SequentialBlock().add(new Models.Scale(3));
        model.initialize(m, DataType.FLOAT64, new Shape(1, 3));
        assertThatThrownBy(() -> builder(model).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no layer it can manage")
                .hasMessageContaining("01Scale:Scale")
                .hasMessageContaining("Linear");
        Block uninitialised = new SequentialBlock().add(Linear.builder().setUnits(2).build());
        assertThatThrownBy(() -> builder(uninitialised).build())
                .hasMessageContaining("not initialised").hasMessageContaining("initialize");
    }

    @Test
    void anAuxiliarySourceThatYieldsNothingIsRejected() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        for (BatchSource empty : List.<BatchSource>of(
                mgr -> null,
                mgr -> LabeledBatch.of(mgr.zeros(new Shape(0, 3), DataType.FLOAT64),
                        mgr.zeros(new Shape(0, 2), DataType.FLOAT64)))) {
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll, empty).build()) {
                assertThatThrownBy(() -> Models.trainStep(opt, model, nll, batch(0)))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("auxiliary data source returned");
            }
        }
    }

    @ParameterizedTest(name = "updateAuxEvery={0}")
    @ValueSource(ints = {3, 0})
    void stepBeforeAnyGradientIsRejected(int every) {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        try (FishLeg opt = builder(model).updateAuxEvery(every).build()) {
            assertThatThrownBy(opt::step)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("before any gradient");
            // ... and is fine once a backward pass ran.
            Models.trainStep(opt, model, nll, batch(0));
            assertThat(opt.getStepCount()).isEqualTo(1);
        }
    }

    @Test
    void unmanagedParametersAreListedAndLeftAlone() {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(3).build())
                .add(new Models.Scale(3))
                .add(Linear.builder().setUnits(2).build());
        model.initialize(m, DataType.FLOAT64, new Shape(1, 3));
        NDArray scale = model.getChildren().get(1).getValue().getParameters().get("scale").getArray();
        double[] before = Dense.values(scale);
        try (FishLeg opt = builder(model).build()) {
            assertThat(opt.managedNames()).containsExactly("01Linear", "03Linear");
            assertThat(opt.getUnmanagedParameters()).containsExactly("02Scale_scale");
            for (int i = 0; i < 4; i++) {
                Models.trainStep(opt, model, nll, batch(i));
            }
            assertThat(Dense.values(scale)).containsExactly(before);
            // Selecting the unsupported layer explicitly is an error that names it.
            assertThatThrownBy(() -> builder(model).moduleNames("02Scale").build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("02Scale").hasMessageContaining("not supported");
        }
    }

    @Test
    void moduleNamesSkipNamesAndStrictMode() {
        SequentialBlock inner = new SequentialBlock()
                .add(Linear.builder().setUnits(4).build())
                .add(Linear.builder().setUnits(4).build());
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(4).build())
                .add(inner)
                .add(Linear.builder().setUnits(2).build());
        model.initialize(m, DataType.FLOAT64, new Shape(1, 3));
        try (FishLeg all = builder(model).build()) {
            assertThat(all.managedNames()).containsExactly(
                    "01Linear", "02SequentialBlock.01Linear", "02SequentialBlock.02Linear", "03Linear");
        }
        // A selected container stands for the layers inside it.
        try (FishLeg sel = builder(model).moduleNames("02SequentialBlock").build()) {
            assertThat(sel.managedNames())
                    .containsExactly("02SequentialBlock.01Linear", "02SequentialBlock.02Linear");
            assertThat(sel.getUnmanagedParameters()).containsExactly(
                    "01Linear_weight", "01Linear_bias", "03Linear_weight", "03Linear_bias");
        }
        try (FishLeg re = builder(model).moduleNames("re:0[13]").build()) {
            assertThat(re.managedNames()).containsExactly("01Linear", "03Linear");
        }
        try (FishLeg skip = builder(model).skipNames("02Linear").build()) {
            assertThat(skip.managedNames())
                    .containsExactly("01Linear", "02SequentialBlock.01Linear", "03Linear");
        }
        try (FishLeg first = builder(model).moduleNames("re:*", "ignored").build()) {
            assertThat(first.managedNames()).hasSize(4);
        }
        assertThatThrownBy(() -> builder(model).moduleNames("01Linear", "09Linear")
                        .strictModuleNames(true).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'09Linear'");
        assertThatThrownBy(() -> builder(model).moduleNames("09Linear").build())
                .hasMessageContaining("no layer it can manage");
    }

    @ParameterizedTest(name = "updateAuxEvery={0}")
    @ValueSource(ints = {3, 1, -2, 0})
    void auxiliaryUpdatesFollowUpdateAuxEvery(int every) {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 4, 2);
        try (FishLeg opt = builder(model).updateAuxEvery(every).auxLr(0.01).build()) {
            double[] lBefore = Dense.values(((KroneckerBlock) opt.getBlocks().get(0)).getL());
            int steps = 7;
            for (int i = 0; i < steps; i++) {
                long before = opt.getAuxUpdateCount();
                Models.trainStep(opt, model, nll, batch(i % 4));
                long expected = every > 0 ? (i % every == 0 ? 1 : 0) : every < 0 ? -every : 0;
                assertThat(opt.getAuxUpdateCount() - before).as("step " + i).isEqualTo(expected);
            }
            double[] lAfter = Dense.values(((KroneckerBlock) opt.getBlocks().get(0)).getL());
            if (every == 0) {
                assertThat(lAfter).containsExactly(lBefore);
                assertThat(opt.getAuxLoss()).isNaN();
            } else {
                assertThat(lAfter).isNotEqualTo(lBefore);
            }
        }
    }

    @Test
    void numStepsDecaysTheAuxiliaryLearningRateLinearlyToZero() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        try (FishLeg opt = builder(model).updateAuxEvery(1).auxLr(0.01).numSteps(4).build()) {
            for (int k = 0; k < 4; k++) {
                assertThat(opt.currentAuxLr()).isCloseTo(0.01 * (4 - k) / 4.0, offset(1e-15));
                Models.trainStep(opt, model, nll, batch(k));
            }
            assertThat(opt.currentAuxLr()).isZero();
            KroneckerBlock block = (KroneckerBlock) opt.getBlocks().get(0);
            double[] frozen = Dense.values(block.getL());
            Models.trainStep(opt, model, nll, batch(0));
            assertThat(Dense.values(block.getL())).containsExactly(frozen);
        }
    }

    /** Clears FishLeg's gradients and runs the backward pass of the nll on a batch. */
    private void backward(FishLeg opt, Block model, LabeledBatch batch) {
        opt.zeroGrad();
        try (ai.djl.training.GradientCollector gc =
                ai.djl.engine.Engine.getInstance().newGradientCollector()) {
            gc.backward(nll.nll(model, batch));
        }
    }

    /**
     * docs/ALGORITHM.md §9.3: with Q0 = s·I, β = 0 and no aux update, a step is SGD with rate η·s
     * plus decay.
     */
    @Test
    void firstStepWithScaledIdentityIsDecoupledSgd() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        NDArray w = model.getParameters().get("01Linear_weight").getArray();
        try (FishLeg opt = builder(model).beta(0).scale(2.5).fishLr(0.1).weightDecay(0.01)
                .updateAuxEvery(0).build()) {
            double[] w0 = Dense.values(w);
            backward(opt, model, batch(0));
            double[] g = Dense.values(w.getGradient());
            opt.step();
            double[] w1 = Dense.values(w);
            for (int i = 0; i < w0.length; i++) {
                assertThat(w1[i]).isCloseTo(w0[i] - 0.1 * 2.5 * g[i] - 0.01 * w0[i], offset(1e-14));
            }
        }
    }

    /**
     * docs/ALGORITHM.md §9.5: with HEAVY_BALL, Q0 = s·I and no aux update, two steps are SGD with
     * heavy-ball momentum on n = s·g plus the L2 term: m1 = n1 + wd·w0, w1 = w0 − η m1, m2 = β m1
     * + n2 + wd·w1, w2 = w1 − η m2.
     */
    @Test
    void heavyBallMomentumFormIsSgdWithMomentumOnTheNaturalGradient() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        NDArray w = model.getParameters().get("01Linear_weight").getArray();
        double eta = 0.1;
        double s = 2.5;
        double wd = 0.01;
        double beta = 0.8;
        try (FishLeg opt = builder(model).beta(beta).scale(s).fishLr(eta).weightDecay(wd)
                .momentumForm(ParameterStep.Momentum.HEAVY_BALL).updateAuxEvery(0).build()) {
            double[] w0 = Dense.values(w);
            double[] m1 = new double[w0.length];
            double[] expected = new double[w0.length];
            for (int step = 0; step < 2; step++) {
                double[] before = Dense.values(w);
                backward(opt, model, batch(step));
                double[] g = Dense.values(w.getGradient());
                opt.step();
                for (int i = 0; i < w0.length; i++) {
                    m1[i] = beta * m1[i] + s * g[i] + wd * before[i];
                    expected[i] = before[i] - eta * m1[i];
                }
                double[] now = Dense.values(w);
                for (int i = 0; i < w0.length; i++) {
                    assertThat(now[i]).as("step " + step).isCloseTo(expected[i], offset(1e-14));
                }
            }
        }
    }

    @Test
    void fineTunePullsTowardsTheInitialParametersScaledByTheLearningRate() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        NDArray w = model.getParameters().get("01Linear_weight").getArray();
        double eta = 0.2;
        double wd = 0.5;
        double s = 1.5;
        try (FishLeg opt = builder(model).beta(0).scale(s).fishLr(eta).weightDecay(wd)
                .fineTune(true).updateAuxEvery(0).build()) {
            double[] theta0 = Dense.values(w);
            double[] p = theta0.clone();
            for (int k = 0; k < 3; k++) {
                backward(opt, model, batch(k));
                double[] g = Dense.values(w.getGradient());
                opt.step();
                for (int i = 0; i < p.length; i++) {
                    p[i] = p[i] - eta * (s * g[i] + wd * (p[i] - theta0[i]));
                }
                assertThat(Dense.relError(Dense.values(w), p)).isLessThan(1e-13);
            }
        }
    }

    @Test
    void zeroAndNormalInitialisationOfManagedLinearLayers() {
        Block zero = Models.mlp(m, DataType.FLOAT64, 3, 2);
        try (FishLeg opt = builder(zero).initialization(Initialization.ZERO).build()) {
            for (NDArray p : opt.getBlocks().get(0).getParameterArrays()) {
                assertThat(Dense.values(p)).containsOnly(0.0);
            }
        }
        int in = 400;
        Block normal = Models.mlp(m, DataType.FLOAT64, in, 50);
        NDArray bias = normal.getParameters().get("01Linear_bias").getArray();
        double[] biasBefore = Dense.values(bias);
        try (FishLeg opt = FishLeg.builder(normal, DrawFunction.of(lik), nll, mgr -> null)
                .initialization("normal").seed(4).build()) {
            double[] wv = Dense.values(opt.getBlocks().get(0).getParameterArrays().get(0));
            double mean = 0;
            double sq = 0;
            for (double v : wv) {
                mean += v / wv.length;
                sq += v * v / wv.length;
            }
            double std = Math.sqrt(sq - mean * mean);
            assertThat(std).isCloseTo(1 / Math.sqrt(in), offset(0.05 / Math.sqrt(in)));
            assertThat(mean).isCloseTo(0, offset(5 / Math.sqrt(in) / Math.sqrt(wv.length)));
            assertThat(Dense.values(bias)).containsExactly(biasBefore);
        }
    }

    @Test
    void triangularMasksKeepLinearFactorsUpperTriangular() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 4, 2);
        try (FishLeg opt = builder(model).updateAuxEvery(1).auxLr(0.05).build()) {
            for (int i = 0; i < 5; i++) {
                Models.trainStep(opt, model, nll, batch(i % 4));
            }
            for (CurvatureBlock b : opt.getBlocks()) {
                KroneckerBlock k = (KroneckerBlock) b;
                for (NDArray f : List.of(k.getL(), k.getR())) {
                    int n = (int) f.getShape().get(0);
                    double[][] mat = Dense.matrix(Dense.values(f), n, n);
                    double upper = 0;
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            if (i > j) {
                                assertThat(mat[i][j]).isZero();
                            } else if (i < j) {
                                upper += Math.abs(mat[i][j]);
                            }
                        }
                    }
                    if (n > 1) {
                        assertThat(upper).as("the upper triangle did learn").isPositive();
                    }
                }
            }
        }
    }

    @Test
    void theModelsGradientsAreLeftAsTheyWereByAuxiliaryUpdates() {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(3).build())
                .add(new Models.Scale(3))
                .add(Linear.builder().setUnits(2).build());
        model.initialize(m, DataType.FLOAT64, new Shape(1, 3));
        try (FishLeg opt = builder(model).updateAuxEvery(-2).build()) {
            backward(opt, model, batch(1));
            List<double[]> before = model.getParameters().values().stream()
                    .map(p -> Dense.values(p.getArray().getGradient())).toList();
            opt.step();
            List<double[]> after = model.getParameters().values().stream()
                    .map(p -> Dense.values(p.getArray().getGradient())).toList();
            for (int i = 0; i < before.size(); i++) {
                assertThat(after.get(i)).containsExactly(before.get(i));
            }
        }
    }

    @Test
    void trainsInFloat32() {
        NDArray x32 = x.toType(DataType.FLOAT32, true);
        NDArray teacher = Models.gaussian(m, rng, 3, 2, DataType.FLOAT32);
        NDArray y32 = x32.matMul(teacher);
        Block model = Models.mlp(m, DataType.FLOAT32, 3, 8, 2);
        try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll,
                        BatchSources.randomBatches(x32, y32, 16, 1))
                .fishLr(0.05).damping(0.5).updateAuxEvery(2).auxLr(1e-3).build()) {
            BatchSource train = BatchSources.randomBatches(x32, y32, 16, 2);
            double first = 0;
            double last = 0;
            for (int t = 0; t < 150; t++) {
                try (NDManager b = m.newSubManager()) {
                    double loss = Models.trainStep(opt, model, nll, train.next(b));
                    assertThat(loss).isFinite();
                    if (t < 10) {
                        first += loss / 10;
                    }
                    if (t >= 140) {
                        last += loss / 10;
                    }
                }
            }
            assertThat(last).isLessThan(0.7 * first);
            for (CurvatureBlock b : opt.getBlocks()) {
                for (NDArray a : b.getAuxParameters().values()) {
                    assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
                }
            }
            for (NDArray p : model.getParameters().values().stream().map(p -> p.getArray()).toList()) {
                assertThat(p.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(ai.fishleg.util.Tensors.isFinite(p)).isTrue();
            }
        }
    }

    @Test
    void storedGradientIsTheTrainingGradientOnAuxiliarySteps() {
        Block model = Models.mlp(m, DataType.FLOAT64, 3, 2);
        try (FishLeg opt = builder(model).updateAuxEvery(2).build()) {
            Models.trainStep(opt, model, nll, batch(0));
            NDList u = opt.getStoredGradient("01Linear");
            double[] stored = Dense.values(u.get(0));
            // Recompute the gradient at the initial parameters is not possible after the step;
            // instead check the next auxiliary step stores the fresh gradient exactly.
            Models.trainStep(opt, model, nll, batch(1)); // not an aux step: u unchanged
            assertThat(Dense.values(u.get(0))).containsExactly(stored);
            backward(opt, model, batch(2));
            double[] g = Dense.values(model.getParameters().get("01Linear_weight").getArray().getGradient());
            opt.step(); // aux step
            assertThat(Dense.values(u.get(0))).containsExactly(g);
        }
    }
}
