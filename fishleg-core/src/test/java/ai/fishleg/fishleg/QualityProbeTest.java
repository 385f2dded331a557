package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
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
import ai.fishleg.util.Rng;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link QualityProbe} against a dense computation (float64): a linear layer with a Gaussian
 * likelihood (σ = 1), whose sampled-label Hessian is the exact F̂ of the antithetic estimator,
 * H = I ⊗ ÂᵀÂ/B on U = [W | b] whatever the labels; Q(λ) as a dense matrix from unit vectors.
 * The labels the model "draws" are fixed, so the Kronecker start (from the same batch) is the
 * probe's K-FAC inverse: both columns agree right after it, and the K-FAC column keeps the start's
 * value while the auxiliary updates move Q.
 */
class QualityProbeTest {

    static final int IN = 4;
    static final int OUT = 3;
    static final int B = 12;
    static final double GAMMA = 0.2;

    @Test
    void relativeErrorsMatchTheDenseComputationAndTheProbeChangesNothing() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(5);
            NDArray x = m.create(rng.gaussians(B * IN), new Shape(B, IN));
            NDArray y = m.create(rng.gaussians(B * OUT), new Shape(B, OUT));
            LabeledBatch batch = LabeledBatch.of(x, y);
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
                assertThat(probe.measure()).as("Gaussian directions: the same at every call")
                        .isEqualTo(probe.measure());
            }
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
