package ai.fishleg.training;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import org.junit.jupiter.api.Test;

/** Wrong uses of FishLegOptimizer fail with a message that says what to do, before any update. */
class FishLegOptimizerMisuseTest {

    private static Block linear() {
        return Linear.builder().setUnits(3).build();
    }

    private static NDArray firstParameter(Model model) {
        return model.getBlock().getParameters().valueAt(0).getArray();
    }

    @Test
    void trainerOfAnotherModelIsRejected() {
        try (NDManager manager = NDManager.newBaseManager();
                Model fishLegModel = Model.newInstance("fishleg-model");
                Model trainedModel = Model.newInstance("trained-model")) {
            ArrayDataset data = TrainingFixtures.inOrder(TrainingFixtures.blobs(manager, 32, 1), 8);
            fishLegModel.setBlock(linear());
            fishLegModel.getBlock().initialize(manager, DataType.FLOAT32, new Shape(1, 4));
            double[] before = Dense.values(firstParameter(fishLegModel));
            trainedModel.setBlock(linear());
            try (FishLegOptimizer fishLeg =
                            FishLegOptimizer.builder(
                                            fishLegModel,
                                            new SoftMaxLikelihood(),
                                            BatchSources.randomBatches(data, 8, 1))
                                    .build();
                    Trainer trainer = trainedModel.newTrainer(TrainingFixtures.config(fishLeg))) {
                trainer.initialize(new Shape(1, 4));
                assertThatThrownBy(() -> EasyTrain.fit(trainer, 1, data, null))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("not a parameter of the model")
                        .hasMessageContaining("fishleg-model");
                assertThat(fishLeg.getFishLeg().getStepCount()).isZero();
            }
            assertThat(Dense.values(firstParameter(fishLegModel))).isEqualTo(before);
        }
    }

    @Test
    void reinitialisationAfterTheFirstGradientIsRejected() {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("lazy")) {
            ArrayDataset data = TrainingFixtures.inOrder(TrainingFixtures.blobs(manager, 32, 1), 8);
            model.setBlock(linear());
            try (FishLegOptimizer fishLeg =
                            FishLegOptimizer.builder(
                                            model,
                                            new SoftMaxLikelihood(),
                                            BatchSources.randomBatches(data, 8, 1))
                                    .configure(b -> b.initialization("normal"))
                                    .build();
                    Trainer trainer = model.newTrainer(TrainingFixtures.config(fishLeg))) {
                trainer.initialize(new Shape(1, 4));
                assertThatThrownBy(() -> EasyTrain.fit(trainer, 1, data, null))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("initialization NORMAL")
                        .hasMessageContaining("initialize(manager, dataType, inputShape)");
            }
        }
    }
}
