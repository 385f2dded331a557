package ai.fishleg.training;

import static ai.fishleg.training.TrainingFixtures.assertEpochMeans;
import static ai.fishleg.training.TrainingFixtures.assertSameParameters;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.fishleg.AuxInfo;
import ai.fishleg.likelihood.GaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import ai.fishleg.training.TrainingFixtures.Case;
import ai.fishleg.training.TrainingFixtures.Run;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Training through DJL ({@code Trainer}, {@link FishLegOptimizer} in the config, {@code
 * EasyTrain.fit}) gives, from the same initial parameters, data and seeds, the same parameters as
 * the hand-written loop {@code opt.zeroGrad(); gc.backward(nll); opt.step();}, and DJL's metrics
 * hold, per epoch, the mean auxiliary loss, check and ‖u‖² of that loop's auxiliary updates.
 */
class EasyTrainParityTest {

    /** Softmax classifier, FishLeg built at the first step (model initialised by the trainer). */
    @Test
    void classifierMatchesTheHandWrittenLoop() throws Exception {
        Case c =
                new Case(
                        () -> new SequentialBlock()
                                .add(Linear.builder().setUnits(12).build())
                                .add(Activation::tanh)
                                .add(Linear.builder().setUnits(3).build()),
                        m -> new SoftMaxLikelihood(),
                        m -> TrainingFixtures.blobs(m, 96, 1),
                        new Shape(1, 4),
                        (likelihood, data) -> b -> b.fishLr(0.05).damping(0.5).updateAuxEvery(3)
                                .auxLr(1e-3),
                        2,
                        null,
                        false);
        checkParity(c);
    }

    /**
     * Gaussian regression with a learnable σ (FishLeg's likelihood block) and a diagonal warm-up,
     * which then runs inside the first training step.
     */
    @Test
    void regressionWithLearnableSigmaAndWarmupMatchesTheHandWrittenLoop() throws Exception {
        Case c =
                new Case(
                        () -> new SequentialBlock()
                                .add(Linear.builder().setUnits(8).build())
                                .add(Activation::tanh)
                                .add(Linear.builder().setUnits(2).build()),
                        m -> new GaussianLikelihood(m, 0.8, DataType.FLOAT32),
                        m -> TrainingFixtures.regression(m, 64, 2),
                        new Shape(1, 3),
                        (likelihood, data) -> b -> b.fishLr(0.03).damping(0.3).updateAuxEvery(-2)
                                .auxLr(1e-3).warmup(32)
                                .warmupData(BatchSources.randomBatches(data, 16, 5))
                                .warmupLoss(NllFunction.of(likelihood)),
                        2,
                        null,
                        false);
        Run run = checkParity(c);
        assertThat(run.likelihoodParameters()).hasSize(1);
    }

    private static Run checkParity(Case c) throws Exception {
        Run djl = TrainingFixtures.easyTrain(c);
        Run loop = TrainingFixtures.handWritten(c, djl.initial());

        assertThat(djl.managed()).isEqualTo(loop.managed());
        assertThat(djl.steps()).isEqualTo(loop.steps()).isPositive();
        assertThat(djl.auxUpdates()).isEqualTo(loop.auxUpdates()).isPositive();
        for (String name : djl.initial().keySet()) {
            assertThat(Dense.relError(djl.trained().get(name), djl.initial().get(name)))
                    .as("training moved " + name)
                    .isGreaterThan(1e-3);
        }
        assertSameParameters(djl.trained(), loop.trained(), "EasyTrain vs hand-written loop");
        for (int i = 0; i < loop.likelihoodParameters().size(); i++) {
            assertThat(Dense.relError(
                            djl.likelihoodParameters().get(i), loop.likelihoodParameters().get(i)))
                    .as("likelihood parameter " + i)
                    .isLessThanOrEqualTo(TrainingFixtures.TOLERANCE);
        }
        List<List<AuxInfo>> aux = loop.auxInfos();
        assertEpochMeans(djl.metrics(), FishLegOptimizer.AUX_LOSS, aux, AuxInfo::auxLoss);
        assertEpochMeans(djl.metrics(), FishLegOptimizer.AUX_CHECK, aux, AuxInfo::check);
        assertEpochMeans(djl.metrics(), FishLegOptimizer.AUX_G2, aux, AuxInfo::g2);
        return djl;
    }
}
