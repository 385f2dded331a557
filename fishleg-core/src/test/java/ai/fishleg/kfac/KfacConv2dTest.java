package ai.fishleg.kfac;

import static ai.fishleg.kfac.KfacLinearTest.denseNatural;
import static ai.fishleg.kfac.KfacLinearTest.flatten;
import static ai.fishleg.kfac.KfacLinearTest.gram;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.GradientCollector;
import ai.fishleg.curvature.RecordingConv2d;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The K-FAC block of a 2-d convolution (KFC) in float64 against a hand-written convolution: the
 * patches (with zero padding), A = ÂᵀÂ/(B·positions), G = B·ĜᵀĜ over all output positions, and
 * the preconditioned gradient as the solution of the dense Kronecker system, in both forms.
 */
class KfacConv2dTest {

    static final int B = 3;
    static final int C = 2;
    static final int H = 3;
    static final int O = 2;
    static final int K = 2;
    /** Output side with padding 1: 3 + 2 − 2 + 1. */
    static final int HO = 4;
    static final int PATCH = C * K * K;
    static final double SIGMA = 0.6;
    static final double LR = 0.3;

    static final DrawFunction DRAW = (model, x) -> new LabeledBatch(
            x, new NDList(x.head().get(":, 0, 0, 0:1").mul(0.5).sub(0.2)));

    static double[] drawn(double[] x) {
        double[] y = new double[B];
        for (int b = 0; b < B; b++) {
            y[b] = 0.5 * x[b * C * H * H] - 0.2;
        }
        return y;
    }

    /** Patches ā (B·HO·HO rows, with a 1) and output gradients Ĝ of the nll on (x, y). */
    static double[][][] rows(double[] x, double[] y, double[] w, double[] bias, double[] w2,
            double b2) {
        int rows = B * HO * HO;
        double[][] a = new double[rows][PATCH + 1];
        double[][] g = new double[rows][O];
        for (int b = 0; b < B; b++) {
            double f = b2;
            for (int h = 0; h < HO; h++) {
                for (int v = 0; v < HO; v++) {
                    int r = (b * HO + h) * HO + v;
                    for (int c = 0; c < C; c++) {
                        for (int i = 0; i < K; i++) {
                            for (int j = 0; j < K; j++) {
                                int hh = h + i - 1;
                                int vv = v + j - 1;
                                boolean inside = hh >= 0 && hh < H && vv >= 0 && vv < H;
                                a[r][(c * K + i) * K + j] =
                                        inside ? x[((b * C + c) * H + hh) * H + vv] : 0;
                            }
                        }
                    }
                    a[r][PATCH] = 1;
                    for (int o = 0; o < O; o++) {
                        double out = bias[o];
                        for (int p = 0; p < PATCH; p++) {
                            out += w[o * PATCH + p] * a[r][p];
                        }
                        f += w2[(o * HO + h) * HO + v] * out;
                    }
                }
            }
            double df = (f - y[b]) / (SIGMA * SIGMA * B);
            for (int h = 0; h < HO; h++) {
                for (int v = 0; v < HO; v++) {
                    for (int o = 0; o < O; o++) {
                        g[(b * HO + h) * HO + v][o] = df * w2[(o * HO + h) * HO + v];
                    }
                }
            }
        }
        return new double[][][] {a, g};
    }

    @Test
    void factorsAndPreconditionedGradientMatchTheDenseKfc() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = new SequentialBlock()
                    .add(RecordingConv2d.builder().setKernelShape(new Shape(K, K)).setFilters(O)
                            .optPadding(new Shape(1, 1)).build())
                    .add(Blocks.batchFlattenBlock())
                    .add(RecordingLinear.builder().setUnits(1).build());
            Engine.getInstance().setRandomSeed(9);
            net.initialize(m, DataType.FLOAT64, new Shape(1, C, H, H));
            Rng rng = new Rng(21);
            LabeledBatch curvature = batch(m, rng);
            LabeledBatch train = batch(m, rng);
            Block conv = net.getChildren().get(0).getValue();
            Block lin = net.getChildren().get(2).getValue();
            double[] w = Dense.values(conv.getParameters().get("weight").getArray());
            double[] bias = Dense.values(conv.getParameters().get("bias").getArray());
            double[] w2 = Dense.values(lin.getParameters().get("weight").getArray());
            double b2 = Dense.values(lin.getParameters().get("bias").getArray())[0];
            double[] cx = Dense.values(curvature.input());
            double[][][] c = rows(cx, drawn(cx), w, bias, w2, b2);
            double[][] a = gram(c[0], 1.0 / (B * HO * HO));
            double[][] g = gram(c[1], B);
            double[][][] t = rows(Dense.values(train.input()), Dense.values(train.label()), w,
                    bias, w2, b2);
            double[][] u = Dense.mul(Dense.transpose(t[1]), t[0]);
            double damping = KfacLinearTest.DAMPING;
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(List.of(curvature)))
                    .lr(LR).damping(damping).momentum(0).weightDecay(0).klClip(0).build()) {
                opt.zeroGrad();
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(net, train));
                }
                opt.step();
                KroneckerFactoredBlock block = opt.getBlocks().get(0);
                assertThat(block).isInstanceOf(Conv2dBlock.class);
                KfacLinearTest.assertClose(block.getInputFactor(), a, "A of the convolution");
                KfacLinearTest.assertClose(block.getOutputFactor(), g, "G of the convolution");
                double[][] n = denseNatural(a, g, u);
                double[] expected = new double[O * (PATCH + 1)];
                double[] after = new double[O * (PATCH + 1)];
                double[] wNow = Dense.values(conv.getParameters().get("weight").getArray());
                double[] bNow = Dense.values(conv.getParameters().get("bias").getArray());
                for (int o = 0; o < O; o++) {
                    for (int p = 0; p <= PATCH; p++) {
                        double before = p < PATCH ? w[o * PATCH + p] : bias[o];
                        expected[o * (PATCH + 1) + p] = before - LR * n[o][p];
                        after[o * (PATCH + 1) + p] = p < PATCH ? wNow[o * PATCH + p] : bNow[o];
                    }
                }
                assertThat(Dense.relError(after, expected)).as("convolution after the step")
                        .isLessThan(1e-10);

                // the activation form from an input and output gradient, against the same system
                NDArray x = train.input();
                double[] gout = new double[B * O * HO * HO];
                for (int b = 0; b < B; b++) {
                    for (int o = 0; o < O; o++) {
                        for (int h = 0; h < HO; h++) {
                            for (int v = 0; v < HO; v++) {
                                gout[((b * O + o) * HO + h) * HO + v] =
                                        t[1][(b * HO + h) * HO + v][o];
                            }
                        }
                    }
                }
                NDList viaRows = block.precondition(x, m.create(gout, new Shape(B, O, HO, HO)));
                NDList viaWeights = block.precondition(new NDList(
                        m.create(weightPart(u), new Shape(O, C, K, K)), m.create(biasPart(u))));
                double[] want = flatten(n);
                assertThat(Dense.relError(combined(viaRows), want)).as("activation form")
                        .isLessThan(1e-10);
                assertThat(Dense.relError(combined(viaWeights), want)).as("weight form")
                        .isLessThan(1e-10);
            }
        }
    }

    static LabeledBatch batch(NDManager m, Rng rng) {
        return LabeledBatch.of(m.create(rng.gaussians(B * C * H * H), new Shape(B, C, H, H)),
                m.create(rng.gaussians(B), new Shape(B, 1)));
    }

    static double[] weightPart(double[][] u) {
        double[] out = new double[O * PATCH];
        for (int o = 0; o < O; o++) {
            System.arraycopy(u[o], 0, out, o * PATCH, PATCH);
        }
        return out;
    }

    static double[] biasPart(double[][] u) {
        double[] out = new double[O];
        for (int o = 0; o < O; o++) {
            out[o] = u[o][PATCH];
        }
        return out;
    }

    static double[] combined(NDList wb) {
        double[] w = Dense.values(wb.get(0));
        double[] b = Dense.values(wb.get(1));
        double[] out = new double[O * (PATCH + 1)];
        for (int o = 0; o < O; o++) {
            System.arraycopy(w, o * PATCH, out, o * (PATCH + 1), PATCH);
            out[o * (PATCH + 1) + PATCH] = b[o];
        }
        return out;
    }
}
