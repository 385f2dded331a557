package ai.fishleg.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.metric.Metrics;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.GaussianLikelihood;
import org.junit.jupiter.api.Test;

/**
 * Native memory stays bounded when FishLeg trains through EasyTrain: the number of live arrays in
 * the model's manager (which holds the trainer's, FishLeg's and σ's managers) is the same after 1
 * and after 6 epochs, with auxiliary updates in every step, a learnable likelihood parameter, a
 * DJL optimizer on an unmanaged layer and FishLeg's evaluators.
 */
class EasyTrainMemoryTest {

    @Test
    void liveArraysDoNotGrowWithEpochs() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("memory")) {
            ArrayDataset data =
                    TrainingFixtures.inOrder(TrainingFixtures.regression(manager, 160, 5), 8);
            model.setBlock(new SequentialBlock()
                    .add(Linear.builder().setUnits(6).build())
                    .add(Activation::tanh)
                    .add(Linear.builder().setUnits(6).build()) // 03Linear: trained by SGD
                    .add(Activation::tanh)
                    .add(Linear.builder().setUnits(2).build()));
            GaussianLikelihood likelihood =
                    new GaussianLikelihood(model.getNDManager(), 1.0, DataType.FLOAT32);
            try (FishLegOptimizer fishLeg =
                            FishLegOptimizer.builder(
                                            model,
                                            likelihood,
                                            BatchSources.randomBatches(data, 8, 1))
                                    .configure(b -> b.updateAuxEvery(-1).auxLr(1e-3)
                                            .skipNames("03Linear"))
                                    .trainUnmanagedWith(Optimizer.sgd()
                                            .setLearningRateTracker(Tracker.fixed(0.01f))
                                            .build())
                                    .build();
                    Trainer trainer = model.newTrainer(TrainingFixtures.config(fishLeg))) {
                trainer.setMetrics(new Metrics());
                trainer.initialize(new Shape(1, 3));
                EasyTrain.fit(trainer, 1, data, data);
                int afterOne = model.getNDManager().getManagedArrays().size();
                EasyTrain.fit(trainer, 5, data, data);
                int afterSix = model.getNDManager().getManagedArrays().size();
                assertThat(fishLeg.getFishLeg().getStepCount()).isEqualTo(6 * 20);
                assertThat(afterSix).as("live arrays after 6 vs 1 epochs").isEqualTo(afterOne);
            }
        }
    }
}
