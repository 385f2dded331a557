package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A step that cannot blow up: the klClip trust region, skipped non-finite auxiliary updates, and
 * the non-finite policy of step() (nothing non-finite is ever written).
 */
class StepSafetyTest {

    NDManager m;
    Rng rng;
    FishLikelihood lik;
    NllFunction nll;
    NDArray x;
    NDArray y;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
        rng = new Rng(17);
        lik = new FixedGaussianLikelihood(1.0);
        nll = NllFunction.of(lik);
        x = Models.gaussian(m, rng, 256, 4, DataType.FLOAT64);
        NDArray w = Models.gaussian(m, rng, 4, 1, DataType.FLOAT64);
        y = x.matMul(w).tanh().mul(3);
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    FishLeg.Builder builder(Block model) {
        return FishLeg.builder(model, DrawFunction.of(lik), nll, BatchSources.randomBatches(x, y, 32, 4));
    }

    /** Trains; returns the losses (stops at the first non-finite one). */
    List<Double> train(FishLeg opt, Block model, int steps) {
        BatchSource data = BatchSources.randomBatches(x, y, 32, 5);
        List<Double> losses = new ArrayList<>();
        for (int t = 0; t < steps; t++) {
            try (NDManager b = m.newSubManager()) {
                double loss = Models.trainStep(opt, model, nll, data.next(b));
                losses.add(loss);
                if (!Double.isFinite(loss)) {
                    break;
                }
            }
        }
        return losses;
    }

    static double mean(List<Double> v, int from, int to) {
        return v.subList(from, to).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
    }

    @Test
    void aHugeStepDivergesUnclippedButTheClippedOptimizerStaysFiniteAndLearns() {
        double hugeLr = 20;
        // The initial weights come from the engine's generator: seeded here so that the outcome
        // does not depend on which test classes ran before in the same JVM.
        Engine.getInstance().setRandomSeed(17);
        Block unclipped = Models.mlp(m, DataType.FLOAT64, 4, 16, 1);
        double start;
        try (FishLeg opt = builder(unclipped).fishLr(hugeLr).updateAuxEvery(5).auxLr(1e-3)
                .nonFinitePolicy(NonFinitePolicy.SKIP).build()) {
            List<Double> losses = train(opt, unclipped, 60);
            start = losses.get(0);
            double worst = losses.stream().mapToDouble(Double::doubleValue)
                    .map(v -> Double.isFinite(v) ? v : Double.POSITIVE_INFINITY).max().orElseThrow();
            // Divergence: the loss explodes (or steps had to be skipped for non-finite values).
            assertThat(worst > 100 * start || opt.getSkippedSteps() > 0)
                    .as("unclipped: worst loss " + worst + " vs start " + start
                            + ", skipped " + opt.getSkippedSteps())
                    .isTrue();
        }
        Block clipped = Models.mlp(m, DataType.FLOAT64, 4, 16, 1);
        // Heavy-ball: the trust region bounds each natural gradient that enters the momentum,
        // ⟨n, g⟩. With the averaged form it bounds ⟨m, g⟩, which can vanish while m is large, so
        // at this learning rate an unlucky start could still run away (it did once, in CI).
        try (FishLeg opt = builder(clipped).fishLr(hugeLr).updateAuxEvery(5).auxLr(1e-3)
                .momentumForm(ParameterStep.Momentum.HEAVY_BALL).klClip(1e-3).build()) {
            List<Double> losses = train(opt, clipped, 300);
            assertThat(losses).hasSize(300).allMatch(Double::isFinite);
            assertThat(mean(losses, 290, 300)).isLessThan(0.5 * mean(losses, 0, 10));
            assertThat(opt.getClippedSteps()).isPositive();
            assertThat(opt.getSkippedSteps()).isZero();
            for (NDArray p : clipped.getParameters().values().stream().map(p -> p.getArray()).toList()) {
                assertThat(ai.fishleg.util.Tensors.isFinite(p)).isTrue();
            }
        }
    }

    @Test
    void insideTheTrustRegionTheClippedOptimizerIsTheUnclippedOneNumberForNumber() {
        Block a = Models.mlp(m, DataType.FLOAT64, 4, 8, 1);
        Block b = Models.mlp(m, DataType.FLOAT64, 4, 8, 1);
        copyParameters(a, b);
        // Separate likelihoods with equal seeds: both runs draw the same samples.
        FixedGaussianLikelihood la0 = new FixedGaussianLikelihood(1.0);
        FixedGaussianLikelihood lb0 = new FixedGaussianLikelihood(1.0);
        try (FishLeg plain = FishLeg.builder(a, DrawFunction.of(la0), nll,
                        BatchSources.randomBatches(x, y, 32, 4)).updateAuxEvery(2).auxLr(1e-2).build();
                FishLeg clip = FishLeg.builder(b, DrawFunction.of(lb0), nll,
                        BatchSources.randomBatches(x, y, 32, 4)).updateAuxEvery(2).auxLr(1e-2)
                        .klClip(1e9).build()) {
            List<Double> la = train(plain, a, 20);
            List<Double> lb = train(clip, b, 20);
            assertThat(lb).containsExactlyElementsOf(la);
            assertThat(clip.getLastClipFactor()).isEqualTo(1.0);
            assertThat(clip.getClippedSteps()).isZero();
            List<NDArray> pa = a.getParameters().values().stream().map(p -> p.getArray()).toList();
            List<NDArray> pb = b.getParameters().values().stream().map(p -> p.getArray()).toList();
            for (int i = 0; i < pa.size(); i++) {
                assertThat(Dense.values(pb.get(i))).containsExactly(Dense.values(pa.get(i)));
            }
        }
    }

    @Test
    void outsideTheTrustRegionTheStepIsScaledExactlyAsTheFormulaSays() {
        Block model = Models.mlp(m, DataType.FLOAT64, 4, 1);
        double eta = 0.3;
        double s = 2.0;
        double kappa = 1e-4;
        double wd = 1e-3;
        // β = 0 and no auxiliary update: Δ = Q g = s g, so ⟨Δ, g⟩ = s ‖g‖².
        try (FishLeg opt = builder(model).fishLr(eta).scale(s).beta(0).weightDecay(wd)
                .updateAuxEvery(0).klClip(kappa).build()) {
            NDArray w = model.getParameters().get("01Linear_weight").getArray();
            NDArray bias = model.getParameters().get("01Linear_bias").getArray();
            double[] w0 = Dense.values(w);
            double[] b0 = Dense.values(bias);
            opt.zeroGrad();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(nll.nll(model, LabeledBatch.of(x.get("0:32"), y.get("0:32"))));
            }
            double[] gw = Dense.values(w.getGradient());
            double[] gb = Dense.values(bias.getGradient());
            double g2 = Dense.dot(gw, gw) + Dense.dot(gb, gb);
            double nu = Math.min(1, Math.sqrt(kappa / (eta * eta * s * g2)));
            assertThat(nu).as("the test must be outside the region").isLessThan(0.5);
            opt.step();
            assertThat(opt.getLastClipFactor()).isCloseTo(nu, offset(1e-12));
            assertThat(opt.getClippedSteps()).isEqualTo(1);
            double[] w1 = Dense.values(w);
            for (int i = 0; i < w0.length; i++) {
                assertThat(w1[i]).isCloseTo(w0[i] - nu * eta * s * gw[i] - wd * w0[i], offset(1e-14));
            }
            assertThat(Dense.values(bias)[0]).isCloseTo(b0[0] - nu * eta * s * gb[0] - wd * b0[0],
                    offset(1e-14));
            // The momentum buffer holds the unscaled natural gradient.
            assertThat(Dense.values(opt.getMomentum("01Linear").get(0))[0]).isCloseTo(s * gw[0],
                    offset(1e-14));
        }
    }

    @Test
    void aNonFiniteAuxiliaryLossLeavesLambdaUnchangedAndIsCounted() {
        Block model = Models.mlp(m, DataType.FLOAT64, 4, 3, 1);
        NDArray poisoned = x.get("0:32").duplicate();
        poisoned.set(new NDIndex("0, 0"), Double.NaN);
        BatchSource nanAux = mgr -> {
            NDArray xx = poisoned.duplicate();
            NDArray yy = y.get("0:32");
            xx.attach(mgr);
            yy.attach(mgr);
            return LabeledBatch.of(xx, yy);
        };
        try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll, nanAux)
                .updateAuxEvery(1).auxLr(0.1).build()) {
            List<double[]> before = auxValues(opt);
            List<Double> losses = train(opt, model, 3);
            assertThat(losses).allMatch(Double::isFinite);
            assertThat(opt.getSkippedAuxUpdates()).isEqualTo(3);
            assertThat(opt.getAuxUpdateCount()).isZero();
            assertThat(opt.getStepCount()).isEqualTo(3);
            List<double[]> after = auxValues(opt);
            for (int i = 0; i < before.size(); i++) {
                assertThat(after.get(i)).containsExactly(before.get(i));
            }
        }
    }

    static List<double[]> auxValues(FishLeg opt) {
        List<double[]> out = new ArrayList<>();
        for (CurvatureBlock b : opt.getBlocks()) {
            for (NDArray a : b.getAuxParameters().values()) {
                out.add(Dense.values(a));
            }
        }
        return out;
    }

    /** Everything the optimizer and the model hold, as doubles. */
    static List<double[]> snapshot(FishLeg opt, Block model) {
        List<double[]> out = new ArrayList<>(auxValues(opt));
        for (String name : opt.managedNames()) {
            opt.getMomentum(name).forEach(a -> out.add(Dense.values(a)));
            opt.getStoredGradient(name).forEach(a -> out.add(Dense.values(a)));
        }
        model.getParameters().values().forEach(p -> out.add(Dense.values(p.getArray())));
        return out;
    }

    void backwardWithNan(Block model, String parameter) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(nll.nll(model, LabeledBatch.of(x.get("0:32"), y.get("0:32"))));
        }
        model.getParameters().get(parameter).getArray().getGradient()
                .set(new NDIndex("0"), Double.NaN);
    }

    /** With klClip the step's finiteness check goes through ⟨Δ, g⟩; without, through Δ itself. */
    @ParameterizedTest(name = "klClip {0}")
    @ValueSource(doubles = {0, 1e-3})
    void aNanGradientThrowsNamingTheLayerWithEverythingLeftAsItWas(double klClip) {
        Block model = Models.mlp(m, DataType.FLOAT64, 4, 3, 1);
        try (FishLeg opt = builder(model).updateAuxEvery(2).klClip(klClip).build()) {
            train(opt, model, 3);
            List<double[]> before = snapshot(opt, model);
            opt.zeroGrad();
            backwardWithNan(model, "03Linear_weight");
            assertThatThrownBy(opt::step)
                    .isInstanceOf(NonFiniteException.class)
                    .hasMessageContaining("03Linear").hasMessageContaining("weight")
                    .hasMessageContaining("gradient")
                    .satisfies(e -> assertThat(((NonFiniteException) e).getLayer()).isEqualTo("03Linear"));
            List<double[]> after = snapshot(opt, model);
            for (int i = 0; i < before.size(); i++) {
                assertThat(after.get(i)).containsExactly(before.get(i));
            }
            assertThat(opt.getStepCount()).isEqualTo(3);
            assertThat(opt.getAuxUpdateCount()).isEqualTo(2);
        }
    }

    @Test
    void underTheSkipPolicyANanGradientSkipsTheStepAndIsCounted() {
        Block model = Models.mlp(m, DataType.FLOAT64, 4, 3, 1);
        try (FishLeg opt = builder(model).nonFinitePolicy(NonFinitePolicy.SKIP).build()) {
            train(opt, model, 2);
            List<double[]> before = snapshot(opt, model);
            opt.zeroGrad();
            backwardWithNan(model, "01Linear_bias");
            opt.step();
            assertThat(opt.getSkippedSteps()).isEqualTo(1);
            assertThat(opt.getStepCount()).isEqualTo(2);
            List<double[]> after = snapshot(opt, model);
            for (int i = 0; i < before.size(); i++) {
                assertThat(after.get(i)).containsExactly(before.get(i));
            }
            List<Double> losses = train(opt, model, 3);
            assertThat(losses).allMatch(Double::isFinite);
            assertThat(opt.getStepCount()).isEqualTo(5);
        }
    }

    @Test
    void anOverflowingNaturalGradientIsCaughtBeforeAnythingIsWritten() {
        Block model = Models.mlp(m, DataType.FLOAT64, 4, 1);
        try (FishLeg opt = builder(model).updateAuxEvery(0).build()) {
            opt.getBlocks().get(0).state().scale("A", 1e160); // Q = A²·I overflows to infinity
            List<double[]> before = snapshot(opt, model);
            opt.zeroGrad();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(nll.nll(model, LabeledBatch.of(x.get("0:32"), y.get("0:32"))));
            }
            assertThatThrownBy(opt::step).isInstanceOf(NonFiniteException.class)
                    .hasMessageContaining("natural gradient").hasMessageContaining("01Linear");
            List<double[]> after = snapshot(opt, model);
            for (int i = 0; i < before.size(); i++) {
                assertThat(after.get(i)).containsExactly(before.get(i));
            }
        }
    }

    static void copyParameters(Block from, Block to) {
        var src = from.getParameters().values();
        var dst = to.getParameters().values();
        for (int i = 0; i < src.size(); i++) {
            ai.fishleg.util.Tensors.assign(dst.get(i).getArray(), src.get(i).getArray());
        }
    }
}
