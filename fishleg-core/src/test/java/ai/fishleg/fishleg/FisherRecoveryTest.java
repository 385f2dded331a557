package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Fisher recovery (docs/ALGORITHM.md §15, scaled down): a linear student y = w·x with a unit
 * Gaussian likelihood has Fisher F = E[x xᵀ] exactly. With fishLr 0 (θ fixed) and an auxiliary
 * update every step, Q must converge to the inverse damped Fisher.
 *
 * <p>The seed's rank-one estimator uses the gradient g of the batch-MEAN nll under sampled labels,
 * so E[g gᵀ] = F/B for a batch of B examples (docs/ALGORITHM.md §7.1): it is unbiased for F only
 * when B = 1, and with B > 1 it learns (F/B + γI)⁻¹ instead. Both are checked: the target below is
 * (F/B + γI)⁻¹ with the batch size B of the run.
 */
class FisherRecoveryTest {

    static final int N = 5;
    static final double GAMMA = 0.05;

    @ParameterizedTest(name = "batch size {0}")
    @ValueSource(ints = {1, 4})
    void rankOneEstimatorLearnsTheInverseDampedFisherOfTheBatchMean(int batchSize) {
        Rng rng = new Rng(2023);
        int pool = 20000;
        try (NDManager m = NDManager.newBaseManager()) {
            // F = U diag(1/i²) Uᵀ with a random orthogonal U; x = z diag(√l) Uᵀ so E[x xᵀ] = F.
            double[][] u = randomOrthogonal(rng, N);
            double[] x = new double[pool * N];
            for (int r = 0; r < pool; r++) {
                for (int i = 0; i < N; i++) {
                    double z = rng.nextGaussian() / (i + 1);
                    for (int j = 0; j < N; j++) {
                        x[r * N + j] += z * u[j][i];
                    }
                }
            }
            double[] teacher = rng.gaussians(N);
            double[] y = new double[pool];
            for (int r = 0; r < pool; r++) {
                double s = rng.nextGaussian();
                for (int j = 0; j < N; j++) {
                    s += teacher[j] * x[r * N + j];
                }
                y[r] = s;
            }
            NDArray inputs = Tensors.create(m, x, new Shape(pool, N), DataType.FLOAT64);
            NDArray targets = Tensors.create(m, y, new Shape(pool, 1), DataType.FLOAT64);

            Linear student = Linear.builder().setUnits(1).optBias(false).build();
            student.initialize(m, DataType.FLOAT64, new Shape(1, N));
            FishLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            likelihood.setSeed(5);
            NllFunction nll = NllFunction.of(likelihood);
            BatchSource train = BatchSources.randomBatches(inputs, targets, batchSize, 1);
            int steps = 6000;
            try (FishLeg opt = FishLeg.builder(student, DrawFunction.of(likelihood), nll,
                            BatchSources.randomBatches(inputs, targets, batchSize, 2))
                    .fishLr(0).weightDecay(0).damping(GAMMA).scale(1 / GAMMA)
                    .updateAuxEvery(1).auxLr(0.02).numSteps(steps).normalization(true)
                    .build()) {
                double[] w0 = Dense.values(student.getParameters().get("weight").getArray());
                for (int t = 0; t < steps; t++) {
                    try (NDManager batch = m.newSubManager()) {
                        LabeledBatch b = train.next(batch);
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            gc.backward(nll.nll(student, b));
                        }
                        opt.step();
                    }
                }
                assertThat(Dense.values(student.getParameters().get("weight").getArray()))
                        .as("θ is fixed with fishLr 0").containsExactly(w0);

                double[][] f = new double[N][N];
                for (int r = 0; r < pool; r++) {
                    for (int i = 0; i < N; i++) {
                        for (int j = 0; j < N; j++) {
                            f[i][j] += x[r * N + i] * x[r * N + j] / pool;
                        }
                    }
                }
                double[][] c = new double[N][N];
                for (int i = 0; i < N; i++) {
                    for (int j = 0; j < N; j++) {
                        c[i][j] = f[i][j] / batchSize + (i == j ? GAMMA : 0);
                    }
                }
                double[][] target = Dense.inverse(c);
                double[][] q = denseQ((KroneckerBlock) opt.getBlocks().get(0));
                double err = relFrobenius(q, target);
                double start = relFrobenius(scaledIdentity(1 / GAMMA), target);
                // Tolerance: 15 % relative Frobenius error (the start, Q0 = I/γ, is far off).
                assertThat(start).isGreaterThan(0.5);
                assertThat(err).as("‖Q − (F/B + γI)⁻¹‖/‖(F/B + γI)⁻¹‖, start " + start)
                        .isLessThan(0.15);
                if (batchSize > 1) {
                    // ... and not the inverse damped Fisher F itself: the rank-one estimate is F/B.
                    double[][] unscaled = new double[N][N];
                    for (int i = 0; i < N; i++) {
                        for (int j = 0; j < N; j++) {
                            unscaled[i][j] = f[i][j] + (i == j ? GAMMA : 0);
                        }
                    }
                    assertThat(relFrobenius(q, Dense.inverse(unscaled))).isGreaterThan(0.3);
                }
            }
        }
    }

    /** Q of a 1-output linear block without bias: r² diag(A) L Lᵀ diag(A). */
    static double[][] denseQ(KroneckerBlock block) {
        double[][] l = Dense.matrix(Dense.values(block.getL()), N, N);
        double r = Dense.values(block.getR())[0];
        double[] a = Dense.values(block.getA());
        double[][] q = Dense.mul(l, Dense.transpose(l));
        for (int i = 0; i < N; i++) {
            for (int j = 0; j < N; j++) {
                q[i][j] *= r * r * a[i] * a[j];
            }
        }
        return q;
    }

    static double[][] scaledIdentity(double s) {
        double[][] q = new double[N][N];
        for (int i = 0; i < N; i++) {
            q[i][i] = s;
        }
        return q;
    }

    static double relFrobenius(double[][] a, double[][] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                num += (a[i][j] - b[i][j]) * (a[i][j] - b[i][j]);
                den += b[i][j] * b[i][j];
            }
        }
        return Math.sqrt(num / den);
    }

    /** Gram-Schmidt on a Gaussian matrix. */
    static double[][] randomOrthogonal(Rng rng, int n) {
        double[][] q = new double[n][n];
        for (int j = 0; j < n; j++) {
            double[] v = rng.gaussians(n);
            for (int k = 0; k < j; k++) {
                double d = 0;
                for (int i = 0; i < n; i++) {
                    d += v[i] * q[i][k];
                }
                for (int i = 0; i < n; i++) {
                    v[i] -= d * q[i][k];
                }
            }
            double norm = Math.sqrt(Dense.dot(v, v));
            for (int i = 0; i < n; i++) {
                q[i][j] = v[i] / norm;
            }
        }
        return q;
    }

}
