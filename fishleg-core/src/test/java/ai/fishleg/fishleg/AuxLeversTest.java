package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * The auxiliary levers of issue 22 on a small linear layer (float64): the burst schedule counts
 * its updates as the closed form says, the per-factor step's first Adam step moves each factor by
 * auxLr times its magnitude (Adam's first step is ±lr per entry), and resetting the moments makes
 * the next step a fresh Adam's.
 */
class AuxLeversTest {

    static final int IN = 4;
    static final int OUT = 3;

    private static FishLeg build(NDManager m, Block model, LabeledBatch batch,
            UnaryOperator<FishLeg.Builder> settings) {
        FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
        return settings.apply(FishLeg.builder(model, DrawFunction.of(likelihood),
                        NllFunction.of(likelihood), BatchSources.cycle(List.of(batch)))
                .damping(0.2).kroneckerStart(1).fishLr(1e-3)).build();
    }

    private static LabeledBatch batch(NDManager m) {
        Rng rng = new Rng(5);
        return LabeledBatch.of(m.create(rng.gaussians(16 * IN), new Shape(16, IN)),
                m.create(rng.gaussians(16 * OUT), new Shape(16, OUT)));
    }

    private static Block model(NDManager m) {
        Block model = RecordingLinear.builder().setUnits(OUT).build();
        model.initialize(m, DataType.FLOAT64, new Shape(1, IN));
        return model;
    }

    private static void step(FishLeg opt, LabeledBatch batch) {
        FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
        opt.zeroGrad();
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(NllFunction.of(likelihood).nll(opt.getModel(), batch));
        }
        opt.step();
    }

    @Test
    void burstRunsAnUpdateOnTheFirstStepsAfterEveryStart() {
        try (NDManager m = NDManager.newBaseManager()) {
            LabeledBatch batch = batch(m);
            try (FishLeg opt = build(m, model(m), batch,
                    b -> b.kroneckerEvery(10).updateAuxEvery(7).auxBurst(3))) {
                for (int t = 0; t < 25; t++) {
                    step(opt, batch);
                }
                // steps t = 0..24: t mod 7 = 0 (0, 7, 14, 21) or t mod 10 < 3 (0-2, 10-12, 20-22)
                assertThat(opt.getAuxUpdateCount()).isEqualTo(11);
            }
        }
    }

    @Test
    void perFactorStepMovesEachFactorByAuxLrTimesItsMagnitude() {
        try (NDManager m = NDManager.newBaseManager()) {
            LabeledBatch batch = batch(m);
            double lr = 1e-3;
            try (FishLeg opt = build(m, model(m), batch, b -> b.updateAuxEvery(1).auxLr(lr)
                    .auxEps(1e-30).auxStepScale(AuxStepScale.PER_FACTOR))) {
                KroneckerBlock block = (KroneckerBlock) opt.getBlock("");
                double[] r0 = Dense.values(block.getR());
                double[] l0 = Dense.values(block.getL());
                step(opt, batch);
                assertThat(maxAbsChange(r0, Dense.values(block.getR())) / rmsDiagonal(r0, OUT))
                        .isCloseTo(lr, org.assertj.core.data.Offset.offset(1e-9));
                assertThat(maxAbsChange(l0, Dense.values(block.getL())) / rmsDiagonal(l0, IN + 1))
                        .isCloseTo(lr, org.assertj.core.data.Offset.offset(1e-9));
                assertThat(rmsDiagonal(r0, OUT) / rmsDiagonal(l0, IN + 1)).as("factors differ")
                        .isNotCloseTo(1, org.assertj.core.data.Offset.offset(0.1));
            }
        }
    }

    @Test
    void resetMomentsMakeTheNextStepAFreshAdamStep() {
        try (NDManager m = NDManager.newBaseManager();
                AuxAdam used = new AuxAdam(0.9, 0.999, 1e-8, m);
                AuxAdam fresh = new AuxAdam(0.9, 0.999, 1e-8, m)) {
            LabeledBatch batch = batch(m);
            try (FishLeg a = build(m, model(m), batch, b -> b);
                    FishLeg b = build(m, model(m), batch, x -> x)) {
                KroneckerBlock ba = (KroneckerBlock) a.getBlock("");
                KroneckerBlock bb = (KroneckerBlock) b.getBlock("");
                Rng rng = new Rng(9);
                double[] g1 = rng.gaussians(OUT * OUT);
                double[] g2 = rng.gaussians(OUT * OUT);
                used.step(ba.state(), KroneckerBlock.R, array(m, g1), 0.01);
                used.reset();
                assertThat(used.stepCount(ba.getR())).isZero();
                bb.state().assign(KroneckerBlock.R, ba.getR());
                used.step(ba.state(), KroneckerBlock.R, array(m, g2), 0.01);
                fresh.step(bb.state(), KroneckerBlock.R, array(m, g2), 0.01);
                assertThat(Dense.values(ba.getR())).containsExactly(Dense.values(bb.getR()));
            }
        }
        assertThatThrownBy(() -> Hyperparameters.builder().auxBurst(2).build())
                .hasMessageContaining("kroneckerStart");
        assertThat(AuxMoments.parse("reset-at-renewal")).isEqualTo(AuxMoments.RESET_AT_RENEWAL);
        assertThat(AuxStepScale.parse("PER_FACTOR")).isEqualTo(AuxStepScale.PER_FACTOR);
    }

    private static NDArray array(NDManager m, double[] v) {
        return m.create(v, new Shape(OUT, OUT));
    }

    private static double maxAbsChange(double[] a, double[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static double rmsDiagonal(double[] square, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += square[i * n + i] * square[i * n + i];
        }
        return Math.sqrt(s / n);
    }
}
