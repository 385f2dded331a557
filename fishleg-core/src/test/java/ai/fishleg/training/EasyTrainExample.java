package ai.fishleg.training;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.metric.Metrics;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingResult;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.listener.TrainingListener;
import ai.djl.translate.TranslateException;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import java.io.IOException;

/** FishLeg trains a small classifier through DJL's Trainer and EasyTrain.fit. */
public final class EasyTrainExample {

    public static void main(String[] args) throws IOException, TranslateException {
        System.out.println(train(5));
    }

    /**
     * @param epochs passes over the training data
     * @return DJL's training result: loss, accuracy and FishLeg's auxiliary metrics
     */
    public static TrainingResult train(int epochs) throws IOException, TranslateException {
        Engine.getInstance().setRandomSeed(1234);
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("blobs")) {
            ArrayDataset train = blobs(manager, 600);
            ArrayDataset validate = blobs(manager, 300);
            model.setBlock(new SequentialBlock()
                    .add(Linear.builder().setUnits(32).build())
                    .add(Activation::relu)
                    .add(Linear.builder().setUnits(3).build()));

            // The likelihood defines the loss (its nll) and the Fisher that FishLeg inverts.
            FishLikelihood likelihood = new SoftMaxLikelihood();
            try (FishLegOptimizer fishLeg = FishLegOptimizer.builder(
                            model, likelihood, BatchSources.randomBatches(train, 32, 7))
                    .configure(b -> b.fishLr(0.05).damping(0.5).auxLr(1e-3).updateAuxEvery(10))
                    .build()) {
                DefaultTrainingConfig config = new DefaultTrainingConfig(fishLeg.getLoss())
                        .optOptimizer(fishLeg)
                        .addEvaluator(new Accuracy())
                        .addEvaluators(fishLeg.getEvaluators()) // AuxLoss, AuxCheck, AuxG2
                        .addTrainingListeners(TrainingListener.Defaults.logging());
                try (Trainer trainer = model.newTrainer(config)) {
                    trainer.setMetrics(new Metrics());
                    trainer.initialize(new Shape(1, 2));
                    EasyTrain.fit(trainer, epochs, train, validate);
                    return trainer.getTrainingResult();
                }
            }
        }
    }

    /** Three Gaussian blobs in the plane, with one-hot labels as SoftMaxLikelihood expects. */
    static ArrayDataset blobs(NDManager manager, int n) {
        NDArray classes = manager.arange(0, n, 1, DataType.INT64).mod(3);
        NDArray centres = manager.create(new float[][] {{2, 0}, {-1, 2}, {-1, -2}});
        NDArray noise = manager.randomNormal(0, 0.8f, new Shape(n, 2), DataType.FLOAT32);
        return new ArrayDataset.Builder()
                .setData(centres.get(classes).add(noise))
                .optLabels(classes.oneHot(3))
                .setSampling(32, true)
                .build();
    }
}
