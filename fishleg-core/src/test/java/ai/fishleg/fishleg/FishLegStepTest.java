package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link FishLeg#lastStep()} reports what each step did, as the schedule and the optimizer's
 * counters say independently.
 */
class FishLegStepTest {

    @Test
    void theReportFollowsTheScheduleTheRenewalsAndTheCounters() {
        try (NDManager m = NDManager.newBaseManager()) {
            var net = RecordingLinearTest.model(m, true);
            Rng rng = new Rng(4);
            List<LabeledBatch> aux = List.of(RecordingLinearTest.batch(m, rng));
            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(0.7);
            NllFunction nll = NllFunction.of(likelihood);
            try (FishLeg opt = FishLeg.builder(net, DrawFunction.of(likelihood), nll,
                            BatchSources.cycle(aux))
                    .updateAuxEvery(3).kroneckerStart(1).kroneckerEvery(2).klClip(1e-4)
                    .batchSpeedup(true).nonFinitePolicy(NonFinitePolicy.SKIP).build()) {
                assertThat(opt.lastStep()).isEmpty();
                for (int t = 0; t < 6; t++) {
                    long auxBefore = opt.getAuxUpdateCount();
                    try (NDManager s = m.newSubManager()) {
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            gc.backward(nll.nll(net, RecordingLinearTest.batch(s, rng)));
                        }
                        opt.step();
                    }
                    FishLegStep r = opt.lastStep().orElseThrow();
                    assertThat(r.step()).isEqualTo(t);
                    assertThat(r.auxUpdates()).as("step " + t).isEqualTo(t % 3 == 0 ? 1 : 0)
                            .isEqualTo(opt.getAuxUpdateCount() - auxBefore);
                    assertThat(r.qRenewed()).as("step " + t).isEqualTo((t + 1) % 2 == 0);
                    assertThat(r.skipped()).isFalse();
                    assertThat(r.clipFactor()).isEqualTo(opt.getLastClipFactor());
                    assertThat(r.factoredBlocks()).as("the wide middle layer").isOne();
                }
                assertThat(opt.getClippedSteps()).as("klClip bit").isPositive();
                assertThat(opt.getStepCount()).isEqualTo(6);
            }
        }
    }
}
