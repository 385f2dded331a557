package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.FishConvolution;
import ai.fishleg.fishleg.blocks.FishLinear;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The multiplicative auxiliary step ({@link AuxUpdate#LIE_GROUP}, docs/ALGORITHM.md §19) on a
 * convolution (N = LᵀL) followed by a linear layer (N = LLᵀ), in float64, with a fixed auxiliary
 * batch and fixed "sampled" labels so that the auxiliary loss is a function of λ only.
 *
 * <p>The independent computation: the λ-gradient G by central finite differences of the loss
 * ({@link FishLeg#updateAux} with {@link AuxMode#EVALUATE}), and from it, in plain double
 * arithmetic, the step
 * the rule prescribes: T = triu(G Xᵀ), δX = −η T X/‖T‖_F for R and the convolution's L (Gram of
 * columns); T = triu(Xᵀ G), δX = −η X T/‖T‖_F for the linear layer's L (Gram of rows);
 * H = X ⊙ G, δX = −η X ⊙ H/max|H| for A.
 */
class LieGroupStepTest {

    @Test
    void theStepIsTheRuleAndItsFirstOrderChangeIsMinusEtaNormT() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(11);
            double eta = 1e-5;
            try (FishLeg opt = build(m, rng, eta)) {
                Map<String, double[]> before = snapshot(opt);
                Map<String, double[]> gradient = new LinkedHashMap<>();
                for (CurvatureBlock block : opt.getBlocks()) {
                    for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                        gradient.put(key(block, e.getKey()),
                                AuxLossDifferences.finiteDifference(opt, block, e.getKey()));
                    }
                }
                double f0 = AuxLossDifferences.auxLoss(opt);
                double predicted = 0; // Σ ⟨G, δX⟩ = −η Σ ‖T‖_F (and −η‖H‖²/max|H| for A)
                Map<String, double[]> expectedStep = new LinkedHashMap<>();
                for (CurvatureBlock block : opt.getBlocks()) {
                    for (String name : block.getAuxParameters().keySet()) {
                        String k = key(block, name);
                        double[] step = ruleStep(block, name, before.get(k), gradient.get(k), eta);
                        expectedStep.put(k, step);
                        double change = Dense.dot(gradient.get(k), step);
                        assertThat(change).as("first-order change along " + k).isNegative();
                        // the directional derivative along δX, by finite differences of the loss
                        double directional = directionalDerivative(opt, block, name, step);
                        assertThat(directional).as("directional derivative along " + k)
                                .isCloseTo(change, org.assertj.core.data.Offset.offset(
                                        1e-6 * Math.abs(change)));
                        predicted += change;
                    }
                }
                opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN);
                Map<String, double[]> after = snapshot(opt);
                for (Map.Entry<String, double[]> e : expectedStep.entrySet()) {
                    double[] actual = minus(after.get(e.getKey()), before.get(e.getKey()));
                    assertThat(Dense.relError(actual, e.getValue())).as("step of " + e.getKey())
                            .isLessThan(1e-6);
                }
                double f1 = AuxLossDifferences.auxLoss(opt);
                assertThat((f1 - f0) / predicted).as("loss change / predicted first-order change")
                        .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-3));
            }
        }
    }

    @Test
    void smallStepsLowerTheLossAndKeepTheFactorsUpperTriangular() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(12);
            try (FishLeg opt = build(m, rng, 0.05)) {
                double previous = AuxLossDifferences.auxLoss(opt);
                for (int t = 0; t < 10; t++) {
                    opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN);
                    double now = AuxLossDifferences.auxLoss(opt);
                    assertThat(now).as("auxiliary loss after update " + (t + 1)).isLessThan(previous);
                    previous = now;
                }
                int factors = 0;
                for (CurvatureBlock block : opt.getBlocks()) {
                    KroneckerBlock k = (KroneckerBlock) block;
                    for (NDArray x : List.of(k.getL(), k.getR())) {
                        int n = Math.toIntExact(x.getShape().get(0));
                        double[] v = Dense.values(x);
                        for (int i = 0; i < n; i++) {
                            for (int j = 0; j < i; j++) {
                                assertThat(v[i * n + j]).as(block.getName() + " below the diagonal")
                                        .isZero();
                            }
                            assertThat(v[i * n + i]).as("diagonal keeps its sign").isPositive();
                        }
                        factors++;
                    }
                }
                assertThat(factors).isEqualTo(4);
            }
        }
    }

    @Test
    void settingsThatOnlyShapeAdamAreRejected() {
        assertThatThrownBy(() -> Hyperparameters.builder().auxUpdate(AuxUpdate.LIE_GROUP).auxLr(1)
                .build()).hasMessageContaining("auxLr must be < 1");
        assertThatThrownBy(() -> Hyperparameters.builder().auxUpdate("lie-group")
                .auxStepScale(AuxStepScale.PER_FACTOR).build()).hasMessageContaining("auxStepScale");
        assertThat(Hyperparameters.DEFAULTS.auxUpdate()).isEqualTo(AuxUpdate.ADAM);
    }

    /** Conv2d(1→2, 2x2) on 3x3 images - flatten - tanh - Linear(8→3), λ random and triangular. */
    private static FishLeg build(NDManager m, Rng rng, double eta) {
        SequentialBlock model = new SequentialBlock()
                .add(Conv2d.builder().setFilters(2).setKernelShape(new Shape(2, 2)).build())
                .add(Blocks.batchFlattenBlock())
                .add(Activation.tanhBlock())
                .add(Linear.builder().setUnits(3).build());
        model.initialize(m, DataType.FLOAT64, new Shape(1, 1, 3, 3));
        BernoulliLikelihood likelihood = new BernoulliLikelihood();
        NDArray x = Tensors.create(m, rng.gaussians(5 * 9), new Shape(5, 1, 3, 3), DataType.FLOAT64);
        NDArray y = Tensors.create(m, rng.uniforms(5 * 3), new Shape(5, 3), DataType.FLOAT64);
        DrawFunction fixedDraw = (model1, inputs) -> new LabeledBatch(inputs, new NDList(y.duplicate()));
        FishLeg opt = FishLeg.builder(model, fixedDraw, NllFunction.of(likelihood),
                        BatchSources.cycle(List.of(LabeledBatch.of(x, y))))
                .damping(0.3).auxUpdate(AuxUpdate.LIE_GROUP).auxLr(eta).build();
        assertThat(opt.getBlocks()).hasSize(2);
        assertThat(opt.getBlocks().get(0)).isInstanceOf(FishConvolution.class);
        assertThat(opt.getBlocks().get(1)).isInstanceOf(FishLinear.class);
        for (CurvatureBlock block : opt.getBlocks()) {
            for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                NDArray t = e.getValue();
                double[] v = rng.gaussians(Math.toIntExact(t.size()));
                if (e.getKey().equals(KroneckerBlock.A)) {
                    for (int i = 0; i < v.length; i++) {
                        v[i] = 0.5 + 0.3 * Math.abs(v[i]);
                    }
                } else {
                    int n = Math.toIntExact(t.getShape().get(0));
                    for (int i = 0; i < n; i++) {
                        for (int j = 0; j < n; j++) {
                            v[i * n + j] = j < i ? 0 : j == i ? 0.7 + 0.2 * Math.abs(v[i * n + j])
                                    : 0.3 * v[i * n + j];
                        }
                    }
                }
                BlockMatrices.setAux(block, e.getKey(), v);
            }
            NDList u = opt.getStoredGradient(block.getName());
            for (NDArray a : u) {
                set(a, rng.gaussians(Math.toIntExact(a.size())));
            }
        }
        return opt;
    }

    /** The rule's step, computed in plain doubles from X and the finite-difference gradient. */
    private static double[] ruleStep(CurvatureBlock block, String name, double[] x, double[] g,
            double eta) {
        if (name.equals(KroneckerBlock.A)) {
            double[] h = new double[x.length];
            double max = 0;
            for (int i = 0; i < x.length; i++) {
                h[i] = x[i] * g[i];
                max = Math.max(max, Math.abs(h[i]));
            }
            double[] step = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                step[i] = -eta * x[i] * h[i] / max;
            }
            return step;
        }
        int n = (int) Math.round(Math.sqrt(x.length));
        double[][] xm = Dense.matrix(x, n, n);
        double[][] gm = Dense.matrix(g, n, n);
        // N = LLᵀ (linear layer's L): X ← X(I − εT); otherwise (R, the convolution's LᵀL): X ← (I − εT)X
        boolean rowGram = name.equals(KroneckerBlock.L) && block instanceof FishLinear;
        double[][] t = rowGram ? Dense.mul(Dense.transpose(xm), gm) : Dense.mul(gm, Dense.transpose(xm));
        double norm2 = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                if (j < i) {
                    t[i][j] = 0;
                }
                norm2 += t[i][j] * t[i][j];
            }
        }
        double[][] d = rowGram ? Dense.mul(xm, t) : Dense.mul(t, xm);
        double[] step = new double[x.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                step[i * n + j] = -eta * d[i][j] / Math.sqrt(norm2);
            }
        }
        return step;
    }

    private static String key(CurvatureBlock block, String name) {
        return block.getName() + "." + name;
    }

    private static Map<String, double[]> snapshot(FishLeg opt) {
        Map<String, double[]> out = new LinkedHashMap<>();
        for (CurvatureBlock block : opt.getBlocks()) {
            block.getAuxParameters().forEach((name, t) -> out.put(key(block, name), Dense.values(t)));
        }
        return out;
    }

    private static double[] minus(double[] a, double[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            d[i] = a[i] - b[i];
        }
        return d;
    }

    /** (f(X + sδ) − f(X − sδ)) / 2s, rescaled to δ: the first-order change of the loss along δ. */
    private static double directionalDerivative(FishLeg opt, CurvatureBlock block, String name,
            double[] step) {
        double[] base = Dense.values(block.getAuxParameters().get(name));
        double scale = 1e-6 / Math.sqrt(Dense.dot(step, step)); // a perturbation of length 1e-6
        double[] f = new double[2];
        for (int side = 0; side < 2; side++) {
            double[] moved = base.clone();
            for (int i = 0; i < moved.length; i++) {
                moved[i] += (side == 0 ? 1 : -1) * scale * step[i];
            }
            BlockMatrices.setAux(block, name, moved);
            f[side] = AuxLossDifferences.auxLoss(opt);
        }
        BlockMatrices.setAux(block, name, base);
        return (f[0] - f[1]) / (2 * scale);
    }

    private static void set(NDArray tensor, double[] values) {
        try (NDArray v = Tensors.create(tensor.getManager(), values, tensor.getShape(),
                tensor.getDataType())) {
            Tensors.assign(tensor, v);
        }
    }
}
