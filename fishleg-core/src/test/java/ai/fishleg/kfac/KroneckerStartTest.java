package ai.fishleg.kfac;

import static ai.fishleg.kfac.KfacLinearTest.DAMPING;
import static ai.fishleg.kfac.KfacLinearTest.DRAW;
import static ai.fishleg.kfac.KfacLinearTest.HIDDEN;
import static ai.fishleg.kfac.KfacLinearTest.IN;
import static ai.fishleg.kfac.KfacLinearTest.SIGMA;
import static ai.fishleg.kfac.KfacLinearTest.batch;
import static ai.fishleg.kfac.KfacLinearTest.drawn;
import static ai.fishleg.kfac.KfacLinearTest.gram;
import static ai.fishleg.kfac.KfacLinearTest.inverse;
import static ai.fishleg.kfac.KfacLinearTest.pi;
import static ai.fishleg.kfac.KfacLinearTest.plusIdentity;
import static ai.fishleg.kfac.KfacLinearTest.rows;
import static ai.fishleg.kfac.KfacLinearTest.xOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.curvature.RecordingConv2d;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * FishLeg's Kronecker start on the two-layer network of {@link KfacLinearTest} in float64: after
 * building with {@code kroneckerStart(2)}, each layer's Q0, read column by column from its
 * {@code qv}, equals (G + √γ/π I)⁻¹ ⊗ (A + π√γ I)⁻¹ with A and G the equal-weight average of
 * the two batches' statistics, computed by hand (forward and backward pass, Gram matrices, π,
 * Gauss-Jordan inverses), and L and R keep the upper-triangular form FishLinear trains.
 */
class KroneckerStartTest {

    /** Q on the flattened parameters (weight row-major, then bias) from M ⊗ N on vec_r([W | b]). */
    static double[][] kroneckerOnParameters(double[][] m, double[][] n) {
        int o = m.length;
        int k = n.length; // in + 1: the bias is the last column of U
        int in = k - 1;
        double[][] q = new double[o * k][o * k];
        for (int i = 0; i < o; i++) {
            for (int j = 0; j < k; j++) {
                int row = j < in ? i * in + j : o * in + i;
                for (int i2 = 0; i2 < o; i2++) {
                    for (int j2 = 0; j2 < k; j2++) {
                        int col = j2 < in ? i2 * in + j2 : o * in + i2;
                        q[row][col] = m[i][i2] * n[j][j2];
                    }
                }
            }
        }
        return q;
    }

    @ParameterizedTest(name = "batchSpeedup {0}")
    @ValueSource(booleans = {false, true})
    void q0IsTheDenseDampedInverseOfTheAveragedFactors(boolean batchSpeedup) {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(5);
            List<LabeledBatch> data = List.of(batch(m, rng, 4), batch(m, rng, 4));
            KfacLinearTest.Params p = KfacLinearTest.Params.of(net);
            double[][] a1 = new double[IN + 1][IN + 1];
            double[][] g1 = new double[HIDDEN][HIDDEN];
            double[][] a2 = new double[HIDDEN + 1][HIDDEN + 1];
            double[][] g2 = new double[1][1];
            for (LabeledBatch b : data) { // equal weights: (estimate 1 + estimate 2) / 2
                double[][] x = xOf(b);
                KfacLinearTest.Rows r = rows(p, x, drawn(x));
                addHalf(a1, gram(r.a1(), 1.0 / 4));
                addHalf(g1, gram(r.g1(), 4));
                addHalf(a2, gram(r.a2(), 1.0 / 4));
                addHalf(g2, gram(r.g2(), 4));
            }
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (FishLeg opt = FishLeg.builder(net, DRAW, nll, BatchSources.cycle(data))
                    .damping(DAMPING).kroneckerStart(2).batchSpeedup(batchSpeedup).build()) {
                List<CurvatureBlock> blocks = opt.getBlocks();
                check(m, blocks.get(0), a1, g1, "layer 1");
                check(m, blocks.get(1), a2, g2, "layer 2");
                for (CurvatureBlock b : blocks) {
                    KroneckerBlock kb = (KroneckerBlock) b;
                    assertUpperTriangular(kb.getL(), "L of " + b.getName());
                    assertUpperTriangular(kb.getR(), "R of " + b.getName());
                }
            }
            assertThat(KfacLinearTest.Params.of(net).flat())
                    .as("the start leaves the parameters as they were").containsExactly(p.flat());
        }
    }

    /**
     * With kroneckerEvery 1, Q after a step is again the damped inverse, now of the statistics at
     * the parameters that step wrote (one batch, handed out every time), not those of the start.
     */
    @Test
    void kroneckerEveryRestartsFromTheStatisticsAtTheNewParameters() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(8);
            LabeledBatch only = batch(m, rng, 4);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (FishLeg opt = FishLeg.builder(net, DRAW, nll, BatchSources.cycle(List.of(only)))
                    .damping(DAMPING).kroneckerStart(1).kroneckerEvery(1).fishLr(0.5).build()) {
                double[] before = KfacLinearTest.Params.of(net).flat();
                opt.zeroGrad();
                KfacLinearTest.backward(net, nll, batch(m, rng, 3));
                opt.step();
                KfacLinearTest.Params p = KfacLinearTest.Params.of(net);
                assertThat(Dense.relError(p.flat(), before)).as("the step moved the parameters")
                        .isGreaterThan(1e-3);
                double[][] x = xOf(only);
                KfacLinearTest.Rows r = rows(p, x, drawn(x));
                check(m, opt.getBlocks().get(0), gram(r.a1(), 1.0 / 4), gram(r.g1(), 4), "layer 1");
                check(m, opt.getBlocks().get(1), gram(r.a2(), 1.0 / 4), gram(r.g2(), 4), "layer 2");
            }
        }
    }

    private static void check(NDManager m, CurvatureBlock block, double[][] a, double[][] g,
            String what) {
        double pi = pi(a, g);
        double root = Math.sqrt(DAMPING);
        double[][] expected = kroneckerOnParameters(
                inverse(plusIdentity(g, root / pi)), inverse(plusIdentity(a, pi * root)));
        double[][] q = BlockMatrices.operator(m, block);
        assertThat(Dense.maxAbsDiff(q, expected)).as("Q0 of " + what)
                .isLessThan(1e-10 * Dense.maxAbs(expected));
    }


    private static void addHalf(double[][] sum, double[][] term) {
        for (int i = 0; i < sum.length; i++) {
            for (int j = 0; j < sum.length; j++) {
                sum[i][j] += 0.5 * term[i][j];
            }
        }
    }

    private static void assertUpperTriangular(ai.djl.ndarray.NDArray f, String what) {
        int n = (int) f.getShape().get(0);
        double[] v = Dense.values(f);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                assertThat(v[i * n + j]).as(what + "[" + i + "][" + j + "]").isZero();
            }
        }
    }

    /**
     * A convolution (N = LᵀL, no masks): Q0 equals K-FAC's own damped inverses after two statistics
     * updates with equal weight (K-FAC's convolution factors are checked against a dense
     * computation in {@link KfacConv2dTest}).
     */
    @Test
    void convolutionStartsFromKfacsDampedInverse() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = new SequentialBlock()
                    .add(RecordingConv2d.builder().setFilters(3).setKernelShape(new Shape(2, 2))
                            .build())
                    .add(Activation::tanh)
                    .add(ai.djl.nn.Blocks.batchFlattenBlock())
                    .add(RecordingLinear.builder().setUnits(2).build());
            net.initialize(m, DataType.FLOAT64, new Shape(1, 2, 4, 4));
            Rng rng = new Rng(9);
            List<LabeledBatch> data = List.of(
                    LabeledBatch.of(m.create(rng.gaussians(3 * 32), new Shape(3, 2, 4, 4)),
                            m.create(rng.gaussians(3 * 2), new Shape(3, 2))),
                    LabeledBatch.of(m.create(rng.gaussians(3 * 32), new Shape(3, 2, 4, 4)),
                            m.create(rng.gaussians(3 * 2), new Shape(3, 2))));
            DrawFunction draw = (model, x) -> new LabeledBatch(x,
                    new ai.djl.ndarray.NDList(x.head().get(":, 0, 0, 0:2").mul(0.3)));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            var expected = KroneckerEstimate.dampedInverses(net, draw, nll,
                    BatchSources.cycle(data), 2, DAMPING, List.of(), List.of(), m);
            // the same two statistics updates as K-FAC's moving average with weight 1/2
            try (Kfac kfac = Kfac.builder(net, draw, nll, BatchSources.cycle(data)).lr(0)
                    .damping(DAMPING).statDecay(0.5).covEvery(1).invEvery(2).build()) {
                for (int s = 0; s < 2; s++) {
                    kfac.zeroGrad();
                    KfacLinearTest.backward(net, nll, data.get(0));
                    kfac.step();
                }
                KroneckerFactoredBlock conv = kfac.getBlocks().get(0);
                Inverses e = expected.get(conv.getName());
                double root = Math.sqrt(DAMPING);
                int k = (int) conv.getInputFactor().getShape().get(0);
                int o = (int) conv.getOutputFactor().getShape().get(0);
                double[][] a = Dense.matrix(Dense.values(conv.getInputFactor()), k, k);
                double[][] g = Dense.matrix(Dense.values(conv.getOutputFactor()), o, o);
                double pi = pi(a, g);
                double[][] nInv = inverse(plusIdentity(a, pi * root));
                double[][] mInv = inverse(plusIdentity(g, root / pi));
                assertThat(Dense.maxAbsDiff(Dense.matrix(Dense.values(e.input()), k, k), nInv))
                        .as("(A + π√γ I)⁻¹").isLessThan(1e-10);
                assertThat(Dense.maxAbsDiff(Dense.matrix(Dense.values(e.output()), o, o), mInv))
                        .as("(G + √γ/π I)⁻¹").isLessThan(1e-10);
            }
            try (FishLeg opt = FishLeg.builder(net, draw, nll, BatchSources.cycle(data))
                    .damping(DAMPING).kroneckerStart(2).build()) {
                KroneckerBlock block = (KroneckerBlock) opt.getBlocks().get(0);
                Inverses e = expected.get(block.getName());
                int k = block.getCols();
                int o = block.getRows();
                double[][] q = BlockMatrices.operator(m, block);
                double[][] want = kroneckerOnParameters(
                        Dense.matrix(Dense.values(e.output()), o, o),
                        Dense.matrix(Dense.values(e.input()), k, k));
                assertThat(Dense.maxAbsDiff(q, want)).as("Q0 of the convolution")
                        .isLessThan(1e-10 * Dense.maxAbs(want));
            }
        }
    }

    @Test
    void aModelWithoutRecordingLayersIsAClearError() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = new SequentialBlock().add(Linear.builder().setUnits(2).build());
            net.initialize(m, DataType.FLOAT64, new Shape(1, 3));
            Rng rng = new Rng(1);
            List<LabeledBatch> data = List.of(LabeledBatch.of(
                    m.create(rng.gaussians(6), new Shape(2, 3)),
                    m.create(rng.gaussians(4), new Shape(2, 2))));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            DrawFunction draw = (model, x) -> new LabeledBatch(x,
                    new ai.djl.ndarray.NDList(x.head().get(":, 0:2")));
            assertThatThrownBy(() -> FishLeg.builder(net, draw, nll, BatchSources.cycle(data))
                    .kroneckerStart(1).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kroneckerStart = 1")
                    .hasMessageContaining("RecordingLinear");
            assertThatThrownBy(() -> FishLeg.builder(net, draw, nll, BatchSources.cycle(data))
                    .kroneckerStart(1).damping(0).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("damping > 0");
            assertThatThrownBy(() -> FishLeg.builder(net, draw, nll, BatchSources.cycle(data))
                    .kroneckerEvery(10).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kroneckerStart > 0");
        }
    }
}
