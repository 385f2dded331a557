package ai.fishleg.fishleg;

import static ai.fishleg.fishleg.FisherRecoveryTest.randomOrthogonal;
import static ai.fishleg.fishleg.FisherRecoveryTest.relFrobenius;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Fisher estimators and u-sampling options of the auxiliary update (docs/ALGORITHM.md §7):
 * the antithetic product against the exact Hessian of a quadratic loss, and Fisher recovery
 * (docs/ALGORITHM.md §15, small): with Gaussian u, Q(λ) converges to (F + γI)⁻¹ with {@link
 * Estimator#ANTITHETIC} and to (F/B + γI)⁻¹ with the seed's {@link Estimator#RANK1}
 * (docs/ALGORITHM.md §7.1, §15). {@link FisherRecoveryTest} covers the default (RANK1, gradient
 * u); its dense helpers are reused here.
 */
class EstimatorTest {

    static final int N = 6;
    static final double GAMMA = 0.1;

    /**
     * The synthetic problem of docs/ALGORITHM.md §15: x = z diag(√l) Uᵀ, l_i = 1/i², U random
     * orthogonal.
     */
    record Problem(NDArray x, NDArray y, double[][] fisher) {}

    static Problem problem(NDManager m, int examples, long seed) {
        Rng rng = new Rng(seed);
        double[][] u = randomOrthogonal(rng, N);
        double[] x = new double[examples * N];
        for (int e = 0; e < examples; e++) {
            double[] z = rng.gaussians(N);
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int i = 0; i < N; i++) {
                    s += z[i] * Math.sqrt(1.0 / ((i + 1) * (i + 1))) * u[j][i];
                }
                x[e * N + j] = s;
            }
        }
        // The aux batches are drawn from this pool, so its second moment is the Fisher to recover.
        double[][] f = new double[N][N];
        for (int e = 0; e < examples; e++) {
            for (int i = 0; i < N; i++) {
                for (int j = 0; j < N; j++) {
                    f[i][j] += x[e * N + i] * x[e * N + j] / examples;
                }
            }
        }
        NDArray xs = m.create(x, new Shape(examples, N));
        NDArray ys = m.zeros(new Shape(examples, 1), DataType.FLOAT64);
        return new Problem(xs, ys, f);
    }

    /** Learns Q for Linear(N → 1, no bias) with a Gaussian likelihood (σ = 1), parameters fixed. */
    static double[][] learnQ(
            NDManager m, Problem p, Estimator estimator, boolean precondition, int batch,
            int updates, double auxLr) {
        Linear student = Linear.builder().setUnits(1).optBias(false).build();
        student.initialize(m, DataType.FLOAT64, new Shape(1, N));
        FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
        try (FishLeg opt = FishLeg.builder(student, DrawFunction.of(likelihood),
                        NllFunction.of(likelihood),
                        BatchSources.randomBatches(p.x(), p.y(), batch, 21))
                .fishLr(0).damping(GAMMA).scale(1 / GAMMA).updateAuxEvery(1)
                .auxLr(auxLr).auxBetas(0.9, 0.99).auxEps(1e-4).numSteps(updates)
                .estimator(estimator).preconditionAux(precondition)
                .uSampling(USampling.GAUSSIAN).seed(22).build()) {
            for (int k = 0; k < updates; k++) {
                opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN);
            }
            return BlockMatrices.operator(m, opt.getBlock(""));
        }
    }

    @Test
    void antitheticWithGaussianUConvergesToTheInverseDampedFisher() {
        try (NDManager m = NDManager.newBaseManager()) {
            Problem p = problem(m, 4096, 11);
            int batch = 32;
            double[][] target = Dense.inverse(plusDamping(p.fisher(), 1));
            double[][] seedTarget = Dense.inverse(plusDamping(p.fisher(), 1.0 / batch));
            double[][] q = learnQ(m, p, Estimator.ANTITHETIC, true, batch, 2000, 0.005);
            // measured 0.015 (float64, PyTorch 2.7.1 CPU)
            assertThat(relFrobenius(q, target)).as("‖Q − (F + γI)⁻¹‖/‖(F + γI)⁻¹‖")
                    .isLessThan(0.05);
            assertThat(relFrobenius(q, seedTarget)).as("not the rank-one target")
                    .isGreaterThan(0.3);
        }
    }

    @Test
    void rank1WithGaussianUConvergesToTheInverseOfFisherOverBatchPlusDamping() {
        try (NDManager m = NDManager.newBaseManager()) {
            Problem p = problem(m, 4096, 11);
            int batch = 8;
            double[][] target = Dense.inverse(plusDamping(p.fisher(), 1.0 / batch));
            double[][] unbiased = Dense.inverse(plusDamping(p.fisher(), 1));
            double[][] q = learnQ(m, p, Estimator.RANK1, false, batch, 2000, 0.005);
            // measured 0.03 (float64, PyTorch 2.7.1 CPU)
            assertThat(relFrobenius(q, target)).as("‖Q − (F/B + γI)⁻¹‖/‖(F/B + γI)⁻¹‖")
                    .isLessThan(0.06);
            assertThat(relFrobenius(q, unbiased)).isGreaterThan(0.3);
        }
    }

    @Test
    void antitheticProductIsTheHessianOfTheSampledLossAndLeavesTheModelAsItWas() {
        try (NDManager m = NDManager.newBaseManager()) {
            int in = 4;
            int out = 3;
            int b = 10;
            Linear model = Linear.builder().setUnits(out).build();
            model.initialize(m, DataType.FLOAT64, new Shape(1, in));
            Rng rng = new Rng(31);
            NDArray x = m.create(rng.gaussians(b * in), new Shape(b, in));
            NDArray y = m.create(rng.gaussians(b * out), new Shape(b, out));
            LabeledBatch batch = LabeledBatch.of(x, y);
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            NllFunction nll = NllFunction.of(likelihood);
            try (FishLeg opt = FishLeg.builder(model, (mdl, inputs) -> new LabeledBatch(inputs,
                            new NDList(y.duplicate())), nll, BatchSources.cycle(List.of(batch)))
                    .estimator(Estimator.ANTITHETIC).damping(0.2).updateAuxEvery(1).build()) {
                for (int k = 0; k < 3; k++) { // move λ away from the identity first
                    trainStep(opt, nll, batch);
                }
                opt.zeroGrad();
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(model, batch));
                }
                double[] paramsBefore = Dense.flatten(new NDList(
                        model.getParameters().get("weight").getArray(),
                        model.getParameters().get("bias").getArray()));
                double[] gradBefore = Dense.values(
                        model.getParameters().get("weight").getArray().getGradient());

                CurvatureBlock block = opt.getBlock("");
                NDList u = opt.getStoredGradient("");
                AuxInfo info = opt.updateAux(AuxMode.EVALUATE, FisherLabels.DRAWN);

                // nll = ½/B Σ‖y − W x − b‖², so H acts on U = [V_W | V_b] as U ↦ U ÂᵀÂ/B.
                double[] v = Dense.flatten(block.qv(u));
                double[][] vU = new double[out][in + 1];
                double[] xv = Dense.values(x);
                double[][] hat = new double[b][in + 1];
                for (int i = 0; i < b; i++) {
                    for (int j = 0; j < in; j++) {
                        hat[i][j] = xv[i * in + j];
                    }
                    hat[i][in] = 1;
                }
                for (int o = 0; o < out; o++) {
                    for (int j = 0; j < in; j++) {
                        vU[o][j] = v[o * in + j];
                    }
                    vU[o][in] = v[out * in + o];
                }
                double[][] hv = Dense.mul(vU, Dense.mul(Dense.transpose(hat), hat));
                double quad = 0;
                for (int o = 0; o < out; o++) {
                    for (int j = 0; j <= in; j++) {
                        quad += vU[o][j] * hv[o][j] / b;
                    }
                }
                assertThat(info.quadTerm() / quad - 1).as("⟨V, F̂V⟩ vs Vᵀ H V")
                        .isBetween(-1e-7, 1e-7);
                double[] paramsAfter = Dense.flatten(new NDList(
                        model.getParameters().get("weight").getArray(),
                        model.getParameters().get("bias").getArray()));
                assertThat(paramsAfter).as("parameters restored exactly")
                        .containsExactly(paramsBefore);
                NDArray weight = model.getParameters().get("weight").getArray();
                assertThat(Dense.values(weight.getGradient())).as("model gradients untouched")
                        .containsExactly(gradBefore);
            }
        }
    }

    @Test
    void gaussianDirectionsAreFreshDrawsNotTheStoredGradient() {
        try (NDManager m = NDManager.newBaseManager()) {
            Problem p = problem(m, 64, 13);
            Linear model = Linear.builder().setUnits(1).optBias(false).build();
            model.initialize(m, DataType.FLOAT64, new Shape(1, N));
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            NllFunction nll = NllFunction.of(likelihood);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll,
                            BatchSources.randomBatches(p.x(), p.y(), 8, 1))
                    .uSampling("gaussian").build()) {
                trainStep(opt, nll, LabeledBatch.of(p.x(), p.y()));
                double stored = Tensors.dot(opt.getStoredGradient(""), opt.getStoredGradient(""));
                AuxInfo a = opt.updateAux(AuxMode.EVALUATE, FisherLabels.DRAWN);
                AuxInfo b = opt.updateAux(AuxMode.EVALUATE, FisherLabels.DRAWN);
                assertThat(a.g2()).isNotEqualTo(stored).isNotEqualTo(b.g2()).isPositive();
            }
        }
    }

    @Test
    void optionsAreValidatedWithClearMessages() {
        assertThatThrownBy(() -> Estimator.parse("hvp"))
                .hasMessageContaining("rank1, antithetic").hasMessageContaining("hvp");
        assertThat(Estimator.parse("rank-1")).isEqualTo(Estimator.RANK1);
        assertThat(Estimator.parse("Antithetic")).isEqualTo(Estimator.ANTITHETIC);
        assertThat(USampling.parse("GAUSSIAN")).isEqualTo(USampling.GAUSSIAN);
        assertThatThrownBy(() -> USampling.parse("normal"))
                .hasMessageContaining("gradient, gaussian");
        Hyperparameters d = Hyperparameters.DEFAULTS;
        assertThat(d.estimator()).isEqualTo(Estimator.RANK1);
        assertThat(d.uSampling()).isEqualTo(USampling.GRADIENT);
        assertThat(d.preconditionAux()).isFalse();
        assertThatThrownBy(() -> Hyperparameters.builder().antitheticEps(0.0).build())
                .hasMessageContaining("antitheticEps").hasMessageContaining("0.0");
    }

    // --------------------------------------------------------------------------------------

    static void trainStep(FishLeg opt, NllFunction nll, LabeledBatch batch) {
        opt.zeroGrad();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(nll.nll(opt.getModel(), batch));
        }
        opt.step();
    }

    /** F·c + γI. */
    static double[][] plusDamping(double[][] f, double c) {
        double[][] a = new double[f.length][f.length];
        for (int i = 0; i < f.length; i++) {
            for (int j = 0; j < f.length; j++) {
                a[i][j] = c * f[i][j] + (i == j ? GAMMA : 0);
            }
        }
        return a;
    }
}
