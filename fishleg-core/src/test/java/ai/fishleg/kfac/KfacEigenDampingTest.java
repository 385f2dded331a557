package ai.fishleg.kfac;

import static ai.fishleg.kfac.KfacLinearTest.DAMPING;
import static ai.fishleg.kfac.KfacLinearTest.DECAY;
import static ai.fishleg.kfac.KfacLinearTest.LR;
import static ai.fishleg.kfac.KfacLinearTest.SIGMA;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.KfacLinearTest.Params;
import ai.fishleg.kfac.KfacLinearTest.Rows;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * K-FAC's PyTorch conventions in float64 against the dense computation of {@link KfacLinearTest}
 * (hand-written passes): the factors' averages started at the identity (m₀ = I, then m ←
 * statDecay·m + (1 − statDecay)·estimate), and the exact damping, whose natural gradient N of U
 * solves ((A ⊗ G) + γI) vec(N) = vec(U) for the dense Kronecker product.
 */
class KfacEigenDampingTest {

    /** statDecay·m + (1 − statDecay)·estimate, m = I before the first update. */
    static double[][] emaFromIdentity(double[][] old, double[][] estimate) {
        double[][] start = old;
        if (start == null) {
            start = new double[estimate.length][estimate.length];
            for (int i = 0; i < estimate.length; i++) {
                start[i][i] = 1;
            }
        }
        return KfacLinearTest.ema(start, estimate);
    }

    /** N with ((A ⊗ G) + γI) vec(N) = vec(U), vec column-major. */
    static double[][] denseExactNatural(double[][] a, double[][] g, double[][] u) {
        return KfacLinearTest.solveKronecker(
                KfacLinearTest.plusIdentity(Dense.kron(a, g), DAMPING), u);
    }

    @Test
    void identityStartAndEigenDampingMatchTheDenseComputation() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(11);
            List<LabeledBatch> curvature =
                    List.of(KfacLinearTest.batch(m, rng, 3), KfacLinearTest.batch(m, rng, 3));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, KfacLinearTest.DRAW, nll,
                            BatchSources.cycle(curvature))
                    .lr(LR).damping(DAMPING).statDecay(DECAY).covEvery(1).invEvery(1)
                    .momentum(0).weightDecay(0).klClip(0)
                    .factorInit(FactorInit.IDENTITY).dampingForm(DampingForm.EIGEN).build()) {
                double[][] a1 = null;
                double[][] g1 = null;
                double[][] a2 = null;
                double[][] g2 = null;
                for (int step = 0; step < 2; step++) {
                    Params p = Params.of(net);
                    LabeledBatch train = KfacLinearTest.batch(m, rng, 2);
                    double[][] cx = KfacLinearTest.xOf(curvature.get(step));
                    Rows c = KfacLinearTest.rows(p, cx, KfacLinearTest.drawn(cx));
                    a1 = emaFromIdentity(a1, KfacLinearTest.gram(c.a1(), 1.0 / 3));
                    g1 = emaFromIdentity(g1, KfacLinearTest.gram(c.g1(), 3));
                    a2 = emaFromIdentity(a2, KfacLinearTest.gram(c.a2(), 1.0 / 3));
                    g2 = emaFromIdentity(g2, KfacLinearTest.gram(c.g2(), 3));
                    Rows t = KfacLinearTest.rows(p, KfacLinearTest.xOf(train),
                            Dense.values(train.label()));
                    double[][] u1 = Dense.mul(Dense.transpose(t.g1()), t.a1());
                    double[][] u2 = Dense.mul(Dense.transpose(t.g2()), t.a2());

                    opt.zeroGrad();
                    KfacLinearTest.backward(net, nll, train);
                    opt.step();

                    List<KroneckerFactoredBlock> blocks = opt.getBlocks();
                    KfacLinearTest.assertClose(blocks.get(0).getInputFactor(), a1,
                            "A of layer 1 at step " + step + " (started at I)");
                    KfacLinearTest.assertClose(blocks.get(0).getOutputFactor(), g1,
                            "G of layer 1 at step " + step + " (started at I)");
                    KfacLinearTest.assertClose(blocks.get(1).getInputFactor(), a2,
                            "A of layer 2 at step " + step + " (started at I)");
                    KfacLinearTest.assertClose(blocks.get(1).getOutputFactor(), g2,
                            "G of layer 2 at step " + step + " (started at I)");
                    assertThat(opt.lastStep().orElseThrow().factoredBlocks())
                            .as("layer 1 (batch 2) takes the activation form").isEqualTo(1);
                    double[] expected = KfacLinearTest.step(p, denseExactNatural(a1, g1, u1),
                            denseExactNatural(a2, g2, u2), LR);
                    assertThat(Dense.relError(Params.of(net).flat(), expected))
                            .as("parameters after step " + step).isLessThan(1e-10);
                }
            }
        }
    }

    @Test
    void theExactDampingDiffersFromTheFactoredOne() {
        // on the same factors the factored damping gives another step (else the test above
        // could not tell the forms apart)
        double[][] a = {{2, 0.5}, {0.5, 1}};
        double[][] g = {{3, 1}, {1, 0.5}};
        double[][] u = {{1, -2}, {0.5, 0.25}};
        double[] exact = KfacLinearTest.flatten(denseExactNatural(a, g, u));
        double[] factored = KfacLinearTest.flatten(KfacLinearTest.denseNatural(a, g, u));
        assertThat(Dense.relError(factored, exact)).isGreaterThan(1e-3);
    }

    /** A and G after one statistics step with the given number of labels per example. */
    static List<double[]> factorsWith(int fisherSamples) {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(12);
            List<LabeledBatch> curvature = List.of(KfacLinearTest.batch(m, rng, 3));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, KfacLinearTest.DRAW, nll,
                            BatchSources.cycle(curvature))
                    .fisherSamples(fisherSamples).build()) {
                opt.zeroGrad();
                KfacLinearTest.backward(net, nll, KfacLinearTest.batch(m, rng, 2));
                opt.step();
                KroneckerFactoredBlock b = opt.getBlocks().get(0);
                return List.of(Dense.values(b.getInputFactor()), Dense.values(b.getOutputFactor()));
            }
        }
    }

    @Test
    void observedLabelsGiveTheEmpiricalFishersFactors() {
        // FisherLabels.OBSERVED: the statistics pass differentiates the loss at the batch's own
        // labels, so G = B·ĜᵀĜ with Ĝ from those labels (A does not depend on the labels)
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            Rng rng = new Rng(13);
            LabeledBatch curvature = KfacLinearTest.batch(m, rng, 3);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, KfacLinearTest.DRAW, nll,
                            BatchSources.cycle(List.of(curvature)))
                    .fisherLabels(FisherLabels.OBSERVED).build()) {
                Params p = Params.of(net);
                double[][] cx = KfacLinearTest.xOf(curvature);
                Rows observed = KfacLinearTest.rows(p, cx, Dense.values(curvature.label()));
                Rows drawn = KfacLinearTest.rows(p, cx, KfacLinearTest.drawn(cx));
                opt.zeroGrad();
                KfacLinearTest.backward(net, nll, KfacLinearTest.batch(m, rng, 2));
                opt.step();
                List<KroneckerFactoredBlock> blocks = opt.getBlocks();
                KfacLinearTest.assertClose(blocks.get(0).getInputFactor(),
                        KfacLinearTest.gram(observed.a1(), 1.0 / 3), "A of layer 1");
                KfacLinearTest.assertClose(blocks.get(0).getOutputFactor(),
                        KfacLinearTest.gram(observed.g1(), 3), "G of layer 1, observed labels");
                KfacLinearTest.assertClose(blocks.get(1).getOutputFactor(),
                        KfacLinearTest.gram(observed.g2(), 3), "G of layer 2, observed labels");
                // the drawn labels would give another G (else the check above proves nothing)
                assertThat(Dense.relError(Dense.values(blocks.get(1).getOutputFactor()),
                        KfacLinearTest.flatten(KfacLinearTest.gram(drawn.g2(), 3))))
                        .isGreaterThan(1e-3);
            }
        }
    }

    @Test
    void observedLabelsAreNotDrawnSeveralTimes() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = KfacLinearTest.model(m, true);
            LabeledBatch b = KfacLinearTest.batch(m, new Rng(14), 3);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            Kfac.Builder builder = Kfac.builder(net, KfacLinearTest.DRAW, nll,
                    BatchSources.cycle(List.of(b))).fisherLabels(FisherLabels.OBSERVED)
                    .fisherSamples(2);
            assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("fisherSamples 2").hasMessageContaining("OBSERVED");
        }
    }

    @Test
    void severalLabelsPerExampleKeepTheFactorsScale() {
        // the draw here is deterministic, so every copy of an example gets the same label and the
        // average over 3 draws must equal the single draw: A and G keep their scale
        List<double[]> one = factorsWith(1);
        List<double[]> three = factorsWith(3);
        assertThat(Dense.relError(three.get(0), one.get(0))).as("A").isLessThan(1e-12);
        assertThat(Dense.relError(three.get(1), one.get(1))).as("G").isLessThan(1e-12);
    }
}
