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
import ai.djl.nn.Block;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The Kronecker start's options, on the two-layer float64 network of {@link KfacLinearTest}:
 * {@code kroneckerIdentityStart(decay, every)} makes Q the damped inverse of s·I + (1 − s)·A and
 * s·I + (1 − s)·G with s = decay^(1 + ⌊t/every⌋) at a start after t steps, and {@code
 * kroneckerLabels(OBSERVED)} takes G at the batches' own labels; each Q is compared with the dense
 * (G' + √γ/π' I)⁻¹ ⊗ (A' + π'√γ I)⁻¹ computed by hand from the blended factors A', G' (π' theirs).
 */
class KroneckerStartOptionsTest {

    private static final NllFunction NLL = NllFunction.of(new FixedGaussianLikelihood(SIGMA));

    /** The four factors of the two layers: A1, G1, A2, G2. */
    private record Factors(double[][] a1, double[][] g1, double[][] a2, double[][] g2) {

        /** The equal-weight average of each batch's statistics with the given labels. */
        static Factors of(Block net, List<LabeledBatch> data,
                Function<LabeledBatch, double[]> labels) {
            KfacLinearTest.Params p = KfacLinearTest.Params.of(net);
            double[][] a1 = new double[IN + 1][IN + 1];
            double[][] g1 = new double[HIDDEN][HIDDEN];
            double[][] a2 = new double[HIDDEN + 1][HIDDEN + 1];
            double[][] g2 = new double[1][1];
            double w = 1.0 / data.size();
            for (LabeledBatch b : data) {
                double[][] x = xOf(b);
                int n = x.length;
                KfacLinearTest.Rows r = rows(p, x, labels.apply(b));
                add(a1, gram(r.a1(), 1.0 / n), w);
                add(g1, gram(r.g1(), n), w);
                add(a2, gram(r.a2(), 1.0 / n), w);
                add(g2, gram(r.g2(), n), w);
            }
            return new Factors(a1, g1, a2, g2);
        }

        /** s·I + (1 − s)·F for every factor F. */
        Factors withIdentity(double s) {
            return new Factors(blend(a1, s), blend(g1, s), blend(a2, s), blend(g2, s));
        }
    }

    private static double[] drawnLabels(LabeledBatch b) {
        return drawn(xOf(b));
    }

    private static double[] observedLabels(LabeledBatch b) {
        return Dense.values(b.label());
    }

    @Test
    void identityStartIsTheDampedInverseOfTheBlendedFactors() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(21);
            List<LabeledBatch> data = List.of(batch(m, rng, 4), batch(m, rng, 4));
            Factors plain = Factors.of(net, data, KroneckerStartOptionsTest::drawnLabels);
            // the first start comes before any step: s = decay^(1 + 0)
            Factors blended = plain.withIdentity(0.6);
            try (FishLeg opt = FishLeg.builder(net, DRAW, NLL, BatchSources.cycle(data))
                    .damping(DAMPING).kroneckerStart(2).kroneckerIdentityStart(0.6, 10).build()) {
                checkBoth(m, opt.getBlocks(), blended);
                // the identity made a difference the check can see
                assertThat(Dense.maxAbsDiff(q(m, opt.getBlocks().get(0)),
                        expectedQ(plain.a1(), plain.g1()))).isGreaterThan(1e-3);
            }
        }
    }

    /**
     * With renewals after every step, the share is decay^(1 + ⌊t/every⌋): with every = 2 it is
     * still decay after step 1, decay² after step 2, each time of the statistics at the
     * parameters of that step.
     */
    @Test
    void theIdentitysShareFadesAsKfacsRunningAverageWould() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(22);
            LabeledBatch only = batch(m, rng, 4);
            double decay = 0.5;
            try (FishLeg opt = FishLeg.builder(net, DRAW, NLL, BatchSources.cycle(List.of(only)))
                    .damping(DAMPING).kroneckerStart(1).kroneckerEvery(1).fishLr(0.5)
                    .kroneckerIdentityStart(decay, 2).build()) {
                double[] shares = {decay, decay * decay};
                for (double share : shares) {
                    double[] before = KfacLinearTest.Params.of(net).flat();
                    opt.zeroGrad();
                    KfacLinearTest.backward(net, NLL, batch(m, rng, 3));
                    opt.step();
                    assertThat(Dense.relError(KfacLinearTest.Params.of(net).flat(), before))
                            .as("the step moved the parameters").isGreaterThan(1e-3);
                    Factors now = Factors.of(net, List.of(only),
                            KroneckerStartOptionsTest::drawnLabels);
                    checkBoth(m, opt.getBlocks(), now.withIdentity(share));
                }
            }
        }
    }

    @Test
    void observedLabelsTakeGAtTheBatchesOwnTargets() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(23);
            List<LabeledBatch> data = List.of(batch(m, rng, 4), batch(m, rng, 4));
            Factors observed = Factors.of(net, data, KroneckerStartOptionsTest::observedLabels);
            Factors drawn = Factors.of(net, data, KroneckerStartOptionsTest::drawnLabels);
            try (FishLeg opt = FishLeg.builder(net, DRAW, NLL, BatchSources.cycle(data))
                    .damping(DAMPING).kroneckerStart(2).kroneckerLabels(FisherLabels.OBSERVED)
                    .build()) {
                checkBoth(m, opt.getBlocks(), observed);
                // the drawn labels would give another Q (else the check above proves nothing)
                assertThat(Dense.maxAbsDiff(q(m, opt.getBlocks().get(1)),
                        expectedQ(drawn.a2(), drawn.g2()))).isGreaterThan(1e-3);
            }
        }
    }

    @Test
    void bothOptionsTogether() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(24);
            List<LabeledBatch> data = List.of(batch(m, rng, 5));
            Factors expected = Factors.of(net, data, KroneckerStartOptionsTest::observedLabels)
                    .withIdentity(0.95);
            try (FishLeg opt = FishLeg.builder(net, DRAW, NLL, BatchSources.cycle(data))
                    .damping(DAMPING).kroneckerStart(1).kroneckerLabels(FisherLabels.OBSERVED)
                    .kroneckerIdentityStart(0.95, 10).build()) {
                checkBoth(m, opt.getBlocks(), expected);
            }
        }
    }

    @Test
    void settingsOutOfRangeAreClearErrors() {
        Hyperparameters.Builder noStart = Hyperparameters.builder();
        assertThatThrownBy(() -> noStart.kroneckerLabels(FisherLabels.OBSERVED).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kroneckerLabels OBSERVED")
                .hasMessageContaining("kroneckerStart > 0");
        assertThatThrownBy(() -> Hyperparameters.builder().kroneckerIdentityStart(0.95, 10).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("kroneckerStart > 0");
        assertThatThrownBy(() -> Hyperparameters.builder().kroneckerStart(1)
                .kroneckerIdentityStart(1, 10).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[0, 1)");
        assertThatThrownBy(() -> Hyperparameters.builder().kroneckerStart(1)
                .kroneckerIdentityStart(0.95, 0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("every 0");
        assertThat(Hyperparameters.DEFAULTS.kroneckerLabels()).isEqualTo(FisherLabels.DRAWN);
        assertThat(Hyperparameters.DEFAULTS.kroneckerIdentityDecay()).isZero();
    }

    private static void checkBoth(NDManager m, List<CurvatureBlock> blocks, Factors f) {
        check(m, blocks.get(0), f.a1(), f.g1(), "layer 1");
        check(m, blocks.get(1), f.a2(), f.g2(), "layer 2");
    }

    private static void check(NDManager m, CurvatureBlock block, double[][] a, double[][] g,
            String what) {
        double[][] expected = expectedQ(a, g);
        assertThat(Dense.maxAbsDiff(q(m, block), expected)).as("Q of " + what)
                .isLessThan(1e-10 * Dense.maxAbs(expected));
    }

    private static double[][] q(NDManager m, CurvatureBlock block) {
        return BlockMatrices.operator(m, block);
    }

    /** (G + √γ/π I)⁻¹ ⊗ (A + π√γ I)⁻¹ on the flattened parameters, π of A and G. */
    private static double[][] expectedQ(double[][] a, double[][] g) {
        double pi = pi(a, g);
        double root = Math.sqrt(DAMPING);
        return KroneckerStartTest.kroneckerOnParameters(
                inverse(plusIdentity(g, root / pi)), inverse(plusIdentity(a, pi * root)));
    }

    private static void add(double[][] sum, double[][] term, double w) {
        for (int i = 0; i < sum.length; i++) {
            for (int j = 0; j < sum.length; j++) {
                sum[i][j] += w * term[i][j];
            }
        }
    }

    private static double[][] blend(double[][] f, double s) {
        double[][] out = new double[f.length][f.length];
        for (int i = 0; i < f.length; i++) {
            for (int j = 0; j < f.length; j++) {
                out[i][j] = (1 - s) * f[i][j] + (i == j ? s : 0);
            }
        }
        return out;
    }
}
