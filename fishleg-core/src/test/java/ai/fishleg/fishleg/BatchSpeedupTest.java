package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.fishleg.curvature.Bias;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import ai.fishleg.fishleg.blocks.FishConvolution;
import ai.fishleg.fishleg.blocks.FishLinear;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code batchSpeedup} (docs/ALGORITHM.md §12): the reference's activation form Qg = (RᵀR
 * Goutᵀ)(Â LLᵀ), computed from a linear layer's inputs and output gradients captured during the
 * user's forward/backward, equals Q applied to the stored gradient, which is what the optimizer
 * uses; the warm-up fixes of docs/ALGORITHM.md §6 (Q0 = s·I, nearest-Kronecker diagonal without
 * NaN); other layer types keep A.
 */
class BatchSpeedupTest {

    @Test
    void qgFromCapturedActivationsEqualsQvOnTheStoredGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            // Linear on a sequence (B, T, 5) -> tanh -> flatten -> Linear(8 -> 3).
            SequentialBlock model = new SequentialBlock()
                    .add(Linear.builder().setUnits(4).build())
                    .add(Activation::tanh)
                    .add(Blocks.batchFlattenBlock())
                    .add(Linear.builder().setUnits(3).build());
            model.initialize(m, DataType.FLOAT64, new Shape(1, 2, 5));
            Rng rng = new Rng(41);
            int b = 6;
            NDArray x = m.create(rng.gaussians(b * 2 * 5), new Shape(b, 2, 5));
            NDArray y = m.create(rng.gaussians(b * 3), new Shape(b, 3));
            LabeledBatch batch = LabeledBatch.of(x, y);
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(0.7);
            NllFunction nll = NllFunction.of(likelihood);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll,
                            BatchSources.cycle(List.of(batch)))
                    .batchSpeedup(true).updateAuxEvery(1).auxLr(0.05).scale(2).build()) {
                for (int step = 0; step < 4; step++) {
                    try (NDManager s = m.newSubManager()) {
                        // The user's training pass, written out to capture what Qg needs:
                        // each linear layer's input and dLoss/dOutput (through a zero probe).
                        ParameterStore ps = new ParameterStore(s, false);
                        List<Block> layers = model.getChildren().values();
                        NDArray probe1 = s.zeros(new Shape(b, 2, 4), DataType.FLOAT64);
                        NDArray probe2 = s.zeros(new Shape(b, 3), DataType.FLOAT64);
                        probe1.setRequiresGradient(true);
                        probe2.setRequiresGradient(true);
                        NDArray input2;
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray h = layers.get(0).forward(ps, new NDList(x), true).head()
                                    .add(probe1);
                            NDArray a = Blocks.batchFlatten(h.tanh());
                            input2 = a.stopGradient();
                            NDArray out = layers.get(3).forward(ps, new NDList(a), true).head()
                                    .add(probe2);
                            gc.backward(likelihood.nll(out, y));
                        }
                        NDArray gout1 = probe1.getGradient();
                        NDArray gout2 = probe2.getGradient();
                        opt.step(); // stores u = gradient, one auxiliary update, parameter step

                        check(opt, "01Linear", x, gout1);
                        check(opt, "04Linear", input2, gout2);
                    }
                }
                FishLinear first = (FishLinear) opt.getBlock("01Linear");
                assertThat(first.usesA()).isFalse();
                assertThat(Dense.relError(Dense.values(first.getR()),
                        Dense.values(m.eye(4, 4, 0, DataType.FLOAT64).mul(Math.pow(2, 0.25)))))
                        .as("λ has moved away from the warm-up").isGreaterThan(1e-3);
            }
        }
    }

    /** Qg(inputs, Gout) vs Qv(stored u) vs (RᵀR ⊗ LLᵀ) vec_r(U) built densely. */
    private static void check(FishLeg opt, String name, NDArray inputs, NDArray gout) {
        FishLinear block = (FishLinear) opt.getBlock(name);
        NDList u = opt.getStoredGradient(name);
        double[] qv = Dense.flatten(block.qv(u));
        double[] qg = Dense.flatten(block.qg(inputs, gout));
        assertThat(Dense.relError(qg, qv)).as(name + ": Qg vs Qv(u)").isLessThan(1e-12);

        int out = block.getOutFeatures();
        int k = block.getCols();
        double[][] r = Dense.matrix(Dense.values(block.getR()), out, out);
        double[][] l = Dense.matrix(Dense.values(block.getL()), k, k);
        double[][] q = Dense.kron(
                Dense.mul(Dense.transpose(r), r), Dense.mul(l, Dense.transpose(l)));
        double[] w = Dense.values(u.get(0));
        double[] bias = Dense.values(u.get(1));
        double[] vecU = new double[out * k];
        for (int o = 0; o < out; o++) {
            System.arraycopy(w, o * (k - 1), vecU, o * k, k - 1);
            vecU[o * k + k - 1] = bias[o];
        }
        double[] dense = Dense.apply(q, vecU);
        double[] qvAsU = new double[out * k];
        for (int o = 0; o < out; o++) {
            System.arraycopy(qv, o * (k - 1), qvAsU, o * k, k - 1);
            qvAsU[o * k + k - 1] = qv[out * (k - 1) + o];
        }
        assertThat(Dense.relError(qvAsU, dense)).as(name + ": Qv vs dense RᵀR ⊗ LLᵀ")
                .isLessThan(1e-12);
    }

    @Test
    void warmupWithoutAUsesTheFactorsAndNeverProducesNaN() {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureOptions speedup = CurvatureOptions.DEFAULT.with(CurvatureOptions.Form.KRONECKER);
            FishLinear block = new FishLinear(3, 2, Bias.WITH, m, DataType.FLOAT64, speedup);
            block.warmup(null, 5.0);
            NDList v = new NDList(m.create(new Rng(1).gaussians(6), new Shape(2, 3)),
                    m.create(new double[] {0.3, -1.1}));
            double[] expected = Dense.flatten(v);
            for (int i = 0; i < expected.length; i++) {
                expected[i] *= 5;
            }
            assertThat(Dense.relError(Dense.flatten(block.qv(v)), expected))
                    .as("Q0 = s·I, not s²·I (docs/ALGORITHM.md §6.1 [FIX])").isLessThan(1e-14);

            // d ⊙ d of rank one: the nearest Kronecker diagonal is exact.
            double[] a = {0.5, 2.0};
            double[] c = {1.0, 3.0, 0.25, 4.0};
            double[] dw = new double[6];
            double[] db = new double[2];
            for (int o = 0; o < 2; o++) {
                for (int j = 0; j < 3; j++) {
                    dw[o * 3 + j] = Math.sqrt(a[o] * c[j]);
                }
                db[o] = Math.sqrt(a[o] * c[3]);
            }
            FishLinear exact = new FishLinear(3, 2, Bias.WITH, m, DataType.FLOAT64, speedup);
            exact.warmup(new NDList(m.create(dw, new Shape(2, 3)), m.create(db)), 1.0);
            NDList diag = exact.diagQ();
            for (int i = 0; i < 6; i++) {
                assertThat(Dense.values(diag.get(0))[i]).isCloseTo(dw[i] * dw[i],
                        offset(1e-12));
            }
            for (int o = 0; o < 2; o++) {
                assertThat(Dense.values(diag.get(1))[o]).isCloseTo(db[o] * db[o],
                        offset(1e-12));
            }

            // A general positive d: an approximation, but finite and positive.
            FishLinear general = new FishLinear(3, 2, Bias.WITH, m, DataType.FLOAT64, speedup);
            double[] r = new Rng(2).uniforms(8);
            general.warmup(new NDList(m.create(java.util.Arrays.copyOf(r, 6), new Shape(2, 3)),
                    m.create(java.util.Arrays.copyOfRange(r, 6, 8))), 1.0);
            for (NDArray d : general.diagQ()) {
                assertThat(Tensors.isFinite(d)).isTrue();
                assertThat(java.util.Arrays.stream(Dense.values(d)).min().orElseThrow())
                        .isPositive();
            }
            assertThatThrownBy(() -> new FishLinear(3, 2, Bias.WITH, m, DataType.FLOAT64,
                    CurvatureOptions.DEFAULT).qg(m.ones(new Shape(1, 3)), m.ones(new Shape(1, 2))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("batchSpeedup");
        }
    }

    @Test
    void convolutionKeepsItsRescalingUnderBatchSpeedup() {
        try (NDManager m = NDManager.newBaseManager()) {
            Conv2d conv = Conv2d.builder().setFilters(2).setKernelShape(new Shape(2, 2)).build();
            conv.initialize(m, DataType.FLOAT64, new Shape(1, 1, 4, 4));
            FishConvolution block = (FishConvolution) LayerRegistry.factoryFor(conv)
                    .create("c", conv, m, CurvatureOptions.DEFAULT.with(CurvatureOptions.Form.KRONECKER));
            assertThat(block.usesA()).isTrue();
            assertThat(block.isTrainable("A")).isTrue();
        }
    }
}
