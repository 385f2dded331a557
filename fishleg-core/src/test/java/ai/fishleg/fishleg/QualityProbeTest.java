package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link QualityProbe} against a dense computation (float64): a linear layer with a Gaussian
 * likelihood (σ = 1), whose sampled-label Hessian is the exact F̂ of the antithetic estimator,
 * H = I ⊗ ÂᵀÂ/B on U = [W | b] whatever the labels; Q(λ) as a dense matrix from unit vectors.
 * The labels the model "draws" are fixed, so the Kronecker start (from the same batch) is the
 * probe's K-FAC inverse: both columns agree right after it, and the K-FAC column keeps the start's
 * value while the auxiliary updates move Q. Along gradient directions (the gradients of held-out
 * batches with their observed labels, σ = 1: ∂nll/∂U = Σᵢ (Uâᵢ − yᵢ)âᵢᵀ / n over a batch of n),
 * computed densely from the current parameters. And a run with probes of both kinds between
 * its backward passes and its steps is the run without them, to the byte of its checkpoint.
 */
class QualityProbeTest {

    static final int IN = 4;
    static final int OUT = 3;
    static final int B = 12;
    static final double GAMMA = 0.2;

    /** n examples of IN Gaussian inputs and OUT Gaussian labels, inputs drawn first. */
    static LabeledBatch gaussianBatch(NDManager m, Rng rng, int n) {
        NDArray x = m.create(rng.gaussians(n * IN), new Shape(n, IN));
        NDArray y = m.create(rng.gaussians(n * OUT), new Shape(n, OUT));
        return LabeledBatch.of(x, y);
    }

    @Test
    void relativeErrorsMatchTheDenseComputationAndTheProbeChangesNothing() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(5);
            LabeledBatch batch = gaussianBatch(m, rng, B);
            NDArray x = batch.data().head();
            NDArray y = batch.label();
            Block model = RecordingLinear.builder().setUnits(OUT).build();
            model.initialize(m, DataType.FLOAT64, new Shape(1, IN));
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            try (FishLeg opt = FishLeg.builder(model,
                            (mdl, inputs) -> new LabeledBatch(inputs, new NDList(y.duplicate())),
                            NllFunction.of(likelihood), BatchSources.cycle(List.of(batch)))
                    .estimator(Estimator.ANTITHETIC).damping(GAMMA).kroneckerStart(1)
                    .uSampling(USampling.GAUSSIAN).auxLr(0.02).updateAuxEvery(1).build()) {
                CurvatureBlock block = opt.getBlock("");
                double[][] h = hessian(Dense.values(x));
                List<double[]> dirs = new ArrayList<>();
                for (int d = 0; d < 3; d++) {
                    dirs.add(rng.gaussians(OUT * IN + OUT));
                }
                QualityProbe probe = opt.qualityProbe(batch, 3, 1);
                double[][] q0 = BlockMatrices.operator(m, block);

                QualityProbe.Report start = probe.measure(directions(m, block, dirs));
                double dense0 = denseError(q0, h, dirs);
                assertThat(start.learned()).isCloseTo(dense0, within(dense0));
                assertThat(start.kfac()).as("the start is K-FAC's inverse from the same batch")
                        .isCloseTo(dense0, within(dense0));
                assertThat(dense0).as("the factored damping is not the exact inverse")
                        .isGreaterThan(1e-3);

                for (int k = 0; k < 20; k++) {
                    opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN);
                }
                double[] lambda = Dense.flatten(new NDList(block.getAuxParameters().values()));
                QualityProbe.Report later = probe.measure(directions(m, block, dirs));
                double[][] q = BlockMatrices.operator(m, block);
                double dense = denseError(q, h, dirs);
                assertThat(later.learned()).isCloseTo(dense, within(dense));
                assertThat(later.kfac()).isCloseTo(dense0, within(dense0));
                assertThat(later.learned()).as("λ moved").isNotCloseTo(dense0, within(dense0));
                assertThat(later.auxUpdates()).isEqualTo(20);
                assertThat(Dense.flatten(new NDList(block.getAuxParameters().values())))
                        .as("λ restored exactly").containsExactly(lambda);
                assertThat(probe.measure(ProbeDirections.GAUSSIAN)).as("Gaussian directions: the same at every call")
                        .isEqualTo(probe.measure(ProbeDirections.GAUSSIAN));
            }
        }
    }

    @Test
    void gradientDirectionsMatchTheDenseComputation() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(6);
            LabeledBatch batch = gaussianBatch(m, rng, B);
            NDArray x = batch.data().head();
            NDArray y = batch.label();
            int n2 = 5;
            List<LabeledBatch> heldOut = new ArrayList<>();
            for (int k = 0; k < 2; k++) { // held-out examples with labels of their own
                heldOut.add(gaussianBatch(m, rng, n2));
            }
            Block model = RecordingLinear.builder().setUnits(OUT).build();
            model.initialize(m, DataType.FLOAT64, new Shape(1, IN));
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            NllFunction nll = NllFunction.of(likelihood);
            try (FishLeg opt = FishLeg.builder(model,
                            (mdl, inputs) -> new LabeledBatch(inputs, new NDList(y.duplicate())),
                            nll, BatchSources.cycle(List.of(batch)))
                    .estimator(Estimator.ANTITHETIC).damping(GAMMA).kroneckerStart(1)
                    .auxLr(0.02).updateAuxEvery(1).fishLr(0.1).build()) {
                CurvatureBlock block = opt.getBlock("");
                double[][] h = hessian(Dense.values(x));
                QualityProbe given = opt.qualityProbe(batch, heldOut, 3, 1);
                QualityProbe split = opt.qualityProbe(batch, 3, 1);

                QualityProbe.Report start = given.measure(ProbeDirections.GRADIENT);
                double dense0 = denseError(BlockMatrices.operator(m, block), h,
                        denseGradients(block, heldOut));
                assertThat(start.directions()).as("one direction per batch").isEqualTo(2);
                assertThat(start.learned()).isCloseTo(dense0, within(dense0));
                assertThat(start.kfac()).as("the start is K-FAC's inverse from the same batch")
                        .isCloseTo(dense0, within(dense0));

                for (int t = 0; t < 3; t++) { // θ and λ move
                    Models.trainStep(opt, model, nll, batch);
                }
                opt.zeroGrad(); // a gradient pending for the next step
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(model, heldOut.get(0)));
                }
                double[] pending = Dense.flatten(gradients(block));
                double[] theta = Dense.flatten(new NDList(block.getParameterArrays()));
                double[][] q = BlockMatrices.operator(m, block);
                List<double[]> gs = denseGradients(block, heldOut);
                double dense = denseError(q, h, gs);
                QualityProbe.Report later = given.measure(ProbeDirections.GRADIENT);
                assertThat(later.learned()).isCloseTo(dense, within(dense));
                assertThat(later.learned()).as("θ and λ moved").isNotCloseTo(dense0, within(dense0));
                assertThat(later.step()).isEqualTo(3);

                List<LabeledBatch> parts = new ArrayList<>(); // F̂'s batch in 3 parts of 4
                for (int k = 0; k < 3; k++) {
                    NDIndex rows = new NDIndex(4 * k + ":" + 4 * (k + 1));
                    parts.add(LabeledBatch.of(x.get(rows), y.get(rows)));
                }
                double denseSplit = denseError(q, h, denseGradients(block, parts));
                QualityProbe.Report own = split.measure(ProbeDirections.GRADIENT);
                assertThat(own.directions()).isEqualTo(3);
                assertThat(own.learned()).isCloseTo(denseSplit, within(denseSplit));
                assertThat(denseSplit).isNotCloseTo(dense, within(dense));

                assertThat(Dense.flatten(gradients(block))).as("gradients restored exactly")
                        .containsExactly(pending);
                assertThat(Dense.flatten(new NDList(block.getParameterArrays())))
                        .containsExactly(theta);
                assertThat(BlockMatrices.operator(m, block)).isDeepEqualTo(q);
            }
        }
    }

    @Test
    void aRunWithProbesTakesTheStepsOfARunWithout(@TempDir Path dir) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(7);
            LabeledBatch all = gaussianBatch(m, rng, 60);
            NDArray x = all.data().head();
            NDArray y = all.label();
            LabeledBatch heldOut = gaussianBatch(m, rng, 24);
            byte[][] saved = new byte[2][];
            List<List<Double>> losses = new ArrayList<>();
            for (boolean probing : new boolean[] {false, true}) {
                Engine.getInstance().setRandomSeed(3);
                SequentialBlock model = new SequentialBlock()
                        .add(RecordingLinear.builder().setUnits(5).build())
                        .add(Activation::tanh)
                        .add(RecordingLinear.builder().setUnits(OUT).build());
                model.initialize(m, DataType.FLOAT64, new Shape(1, IN));
                FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(0.8);
                likelihood.setSeed(4);
                NllFunction nll = NllFunction.of(likelihood);
                BatchSource train = BatchSources.randomBatches(x, y, 10, 11);
                List<Double> run = new ArrayList<>();
                try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll,
                                BatchSources.randomBatches(x, y, 10, 12))
                        .kroneckerStart(1).kroneckerEvery(3).updateAuxEvery(2).auxLr(0.01)
                        .batchSpeedup(true).estimator(Estimator.ANTITHETIC).build()) {
                    QualityProbe probe = opt.qualityProbe(heldOut, 3, 9);
                    for (int t = 0; t < 7; t++) {
                        try (NDManager s = m.newSubManager()) {
                            opt.zeroGrad();
                            try (GradientCollector gc =
                                    Engine.getInstance().newGradientCollector()) {
                                NDArray loss = nll.nll(model, train.next(s));
                                run.add(loss.getDouble());
                                gc.backward(loss);
                            }
                            if (probing) { // between the backward pass and the step
                                for (ProbeDirections kind : ProbeDirections.values()) {
                                    assertThat(probe.measure(kind).learned()).isFinite();
                                }
                            }
                            opt.step();
                        }
                    }
                    Path file = dir.resolve("run-" + probing + ".ckpt");
                    opt.save(file);
                    saved[probing ? 1 : 0] = Files.readAllBytes(file);
                }
                losses.add(run);
            }
            assertThat(losses.get(1)).containsExactlyElementsOf(losses.get(0));
            assertThat(saved[1]).as("model, λ, momentum, moments, counters, generators")
                    .isEqualTo(saved[0]);
        }
    }

    @Test
    void needsAtLeastOneDirection() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block model = RecordingLinear.builder().setUnits(OUT).build();
            model.initialize(m, DataType.FLOAT64, new Shape(1, IN));
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood),
                    NllFunction.of(likelihood), mgr -> null).build()) {
                assertThatThrownBy(() -> opt.qualityProbe(null, 0, 1))
                        .hasMessageContaining("at least 1 direction");
            }
        }
    }

    private static org.assertj.core.data.Offset<Double> within(double scale) {
        return org.assertj.core.data.Offset.offset(1e-7 * Math.max(1, scale));
    }

    private static List<List<NDList>> directions(NDManager m, CurvatureBlock block,
            List<double[]> dirs) {
        List<List<NDList>> out = new ArrayList<>();
        for (double[] d : dirs) {
            out.add(List.of(BlockMatrices.unflatten(m, block, d)));
        }
        return out;
    }

    /** The live gradients of the block's parameters. */
    private static NDList gradients(CurvatureBlock block) {
        NDList out = new NDList();
        for (NDArray p : block.getParameterArrays()) {
            out.add(p.getGradient());
        }
        return out;
    }

    /**
     * Per batch, the gradient of ½ Σᵢ ‖yᵢ − W xᵢ − b‖² / n (the nll with σ = 1 up to a
     * constant) at the block's current W and b, on the flat vector of {@link #index}.
     */
    private static List<double[]> denseGradients(CurvatureBlock block, List<LabeledBatch> batches) {
        double[] theta = Dense.flatten(new NDList(block.getParameterArrays()));
        List<double[]> out = new ArrayList<>();
        for (LabeledBatch b : batches) {
            double[] xv = Dense.values(b.input());
            double[] yv = Dense.values(b.label());
            int n = xv.length / IN;
            double[] g = new double[OUT * IN + OUT];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < OUT; o++) {
                    double r = theta[index(o, IN)] - yv[i * OUT + o];
                    for (int j = 0; j < IN; j++) {
                        r += theta[index(o, j)] * xv[i * IN + j];
                    }
                    for (int j = 0; j <= IN; j++) {
                        g[index(o, j)] += r * (j < IN ? xv[i * IN + j] : 1) / n;
                    }
                }
            }
            out.add(g);
        }
        return out;
    }

    /** H on the block's flat vector (weight row-major, then bias): I ⊗ ÂᵀÂ/B on U = [W | b]. */
    private static double[][] hessian(double[] xv) {
        int n = OUT * IN + OUT;
        double[][] h = new double[n][n];
        for (int o = 0; o < OUT; o++) {
            for (int j = 0; j <= IN; j++) {
                for (int k = 0; k <= IN; k++) {
                    double s = 0;
                    for (int i = 0; i < B; i++) {
                        s += (j < IN ? xv[i * IN + j] : 1) * (k < IN ? xv[i * IN + k] : 1);
                    }
                    h[index(o, j)][index(o, k)] = s / B;
                }
            }
        }
        return h;
    }

    private static int index(int o, int j) {
        return j < IN ? o * IN + j : OUT * IN + o;
    }

    /** The mean of ‖Q(H + γI)v − v‖/‖v‖. */
    private static double denseError(double[][] q, double[][] h, List<double[]> dirs) {
        double sum = 0;
        for (double[] v : dirs) {
            double[] w = Dense.apply(h, v);
            for (int i = 0; i < v.length; i++) {
                w[i] += GAMMA * v[i];
            }
            double[] r = Dense.apply(q, w);
            double d2 = 0;
            double n2 = 0;
            for (int i = 0; i < v.length; i++) {
                d2 += (r[i] - v[i]) * (r[i] - v[i]);
                n2 += v[i] * v[i];
            }
            sum += Math.sqrt(d2 / n2);
        }
        return sum / dirs.size();
    }
}
