package ai.fishleg.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;
import org.junit.jupiter.api.Test;

/**
 * FLOP counts of the Fashion-MNIST auto-encoder (784-1000-500-250-30 mirrored, batch 100) against
 * closed forms written out from the layer widths.
 */
class FlopsTest {

    static final int[] WIDTHS = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
    static final int N = 100;

    static double gram(double n) {
        return n >= KroneckerBlock.TRIANGULAR_SPLIT_FROM ? n * n * n : 2 * n * n * n;
    }

    /** R(∂M + ∂Mᵀ) or (∂N + ∂Nᵀ)L: the upper triangle from five half-size products when large. */
    static double factorGradient(double n) {
        return n >= KroneckerBlock.TRIANGULAR_SPLIT_FROM ? 1.25 * n * n * n : 2 * n * n * n;
    }

    @Test
    void autoencoderCountsMatchTheClosedForms() {
        Task task = Tasks.get("fmnist-autoencoder");
        double qv = 0;
        double qg = 0;
        double forwardBackward = 0;
        double aux = 0;
        for (int i = 0; i + 1 < WIDTHS.length; i++) {
            double o = WIDTHS[i + 1];
            double k = WIDTHS[i] + 1; // weight columns and the bias
            double dense = 2 * o * o * k + 2 * o * k * k;
            double factored = 2 * o * o * N + 2 * N * k * k + 2 * o * N * k;
            qv += dense;
            qg += Math.min(dense, factored);
            forwardBackward += 6.0 * N * o * k;
            // tape Qv; VJP: P = (D⊙A)N, P Xᵀ, (MX)ᵀ(D⊙A), M P, R(∂M + ∂Mᵀ), (∂N + ∂Nᵀ)L;
            // new M = RᵀR and N = LLᵀ, halved for large triangular factors
            aux += dense + 2 * o * k * k + 2 * o * o * k + 2 * o * k * k + 2 * o * o * k
                    + factorGradient(o) + factorGradient(k) + gram(o) + gram(k);
        }
        // The figures: about 9 GFLOP of Qv, 1.7 of forward and backward.
        assertThat(qv).isCloseTo(9.0e9, within(0.05e9));
        assertThat(forwardBackward).isCloseTo(1.7e9, within(0.05e9));
        for (boolean speedup : new boolean[] {false, true}) {
            try (NDManager m = NDManager.newBaseManager()) {
                Block model = task.newModel();
                model.initialize(m, DataType.FLOAT32, task.inputShape(N));
                BernoulliLikelihood lik = new BernoulliLikelihood();
                try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), NllFunction.of(lik),
                                mm -> null)
                        .batchSpeedup(speedup).build()) {
                    assertThat(Flops.qv(opt.getBlocks(), N)).as("speedup " + speedup)
                            .isCloseTo(speedup ? qg : qv, within(1.0));
                    assertThat(Flops.forwardBackward(opt.getBlocks(), N))
                            .isCloseTo(forwardBackward, within(1.0));
                    if (!speedup) {
                        assertThat(Flops.auxCurvature(opt.getBlocks(), N))
                                .isCloseTo(aux, within(1.0));
                    }
                }
            }
        }
    }
}
