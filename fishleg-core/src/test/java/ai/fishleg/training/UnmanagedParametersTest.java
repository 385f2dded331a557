package ai.fishleg.training;

import static ai.fishleg.training.TrainingFixtures.assertSameParameters;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import ai.fishleg.training.TrainingFixtures.Case;
import ai.fishleg.training.TrainingFixtures.Run;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * A model with a layer FishLeg does not manage (excluded with skipNames): under EasyTrain, FishLeg
 * updates its layers and the DJL optimizer named for the others updates those, exactly as in the
 * hand-written loop where that optimizer alone is applied to them with the gradients of the
 * backward pass. FishLeg's auxiliary passes run in every step, so a gradient they failed to restore
 * would show up as a difference.
 */
class UnmanagedParametersTest {

    private static final List<String> UNMANAGED = List.of("03Linear_weight", "03Linear_bias");
    private static final List<String> MANAGED_LAYERS = List.of("01Linear", "05Linear");

    private static Block net() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(10).build())
                .add(Activation::tanh)
                .add(Linear.builder().setUnits(10).build()) // 03Linear: skipped by FishLeg
                .add(Activation::tanh)
                .add(Linear.builder().setUnits(3).build());
    }

    private static Case mixed(Supplier<Optimizer> unmanagedOptimizer) {
        return new Case(
                UnmanagedParametersTest::net,
                m -> new SoftMaxLikelihood(),
                m -> TrainingFixtures.blobs(m, 64, 3),
                new Shape(1, 4),
                (likelihood, data) -> b -> b.fishLr(0.05).damping(0.5).updateAuxEvery(1).auxLr(1e-3)
                        .skipNames("03Linear"),
                2,
                unmanagedOptimizer,
                true);
    }

    @Test
    void eachParameterIsUpdatedByTheOptimizerItBelongsTo() throws Exception {
        Supplier<Optimizer> adam =
                () -> Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.01f)).build();
        Case c = mixed(adam);
        Run djl = TrainingFixtures.easyTrain(c);
        Run loop = TrainingFixtures.handWritten(c, djl.initial());

        assertThat(djl.managed()).isEqualTo(MANAGED_LAYERS);
        for (String name : djl.initial().keySet()) {
            assertThat(Dense.relError(djl.trained().get(name), djl.initial().get(name)))
                    .as("training moved " + name)
                    .isGreaterThan(1e-3);
        }
        assertSameParameters(djl.trained(), loop.trained(), "FishLeg + Adam vs hand-written");
    }

    @Test
    void unmanagedParametersLeftAloneKeepTheirValues() throws Exception {
        Case c = mixed(null);
        Run djl = TrainingFixtures.easyTrain(c);
        Run loop = TrainingFixtures.handWritten(c, djl.initial());

        for (String name : UNMANAGED) {
            assertThat(djl.trained().get(name)).as(name).isEqualTo(djl.initial().get(name));
        }
        assertThat(Dense.relError(djl.trained().get("01Linear_weight"),
                        djl.initial().get("01Linear_weight")))
                .isGreaterThan(1e-3);
        assertSameParameters(djl.trained(), loop.trained(), "FishLeg alone vs hand-written");
    }

    @Test
    void unmanagedParametersNeedAnExplicitChoice() {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("no-choice")) {
            model.setBlock(net());
            model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 4));
            var data = TrainingFixtures.inOrder(TrainingFixtures.blobs(manager, 32, 4), 8);
            var builder =
                    FishLegOptimizer.builder(
                                    model,
                                    new SoftMaxLikelihood(),
                                    BatchSources.randomBatches(data, 8, 1))
                            .configure(b -> b.skipNames("03Linear"));
            assertThatThrownBy(builder::build)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("03Linear_weight")
                    .hasMessageContaining("trainUnmanagedWith")
                    .hasMessageContaining("leaveUnmanagedAlone");
        }
    }
}
