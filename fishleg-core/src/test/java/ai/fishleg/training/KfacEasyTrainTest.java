package ai.fishleg.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.listener.TrainingListener;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.KfacStep;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * K-FAC trains through DJL ({@code Trainer}, {@link TrainerOptimizer} in the config, {@code
 * EasyTrain.fit}) exactly as in the hand-written loop {@code opt.zeroGrad(); gc.backward(nll);
 * opt.step();}, from the same initial parameters, batches and seeds, and the loss drops.
 */
class KfacEasyTrainTest {

    private static final int EPOCHS = 3;
    private static final Shape INPUT = new Shape(1, 4);

    static Block net() {
        return new SequentialBlock()
                .add(RecordingLinear.builder().setUnits(12).build())
                .add(Activation::tanh)
                .add(RecordingLinear.builder().setUnits(3).build());
    }

    static Kfac kfac(Block block, SoftMaxLikelihood likelihood, ArrayDataset data) {
        likelihood.setSeed(3);
        return Kfac.builder(block, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                        BatchSources.randomBatches(data, TrainingFixtures.BATCH, 99))
                .lr(0.05).damping(0.1).covEvery(2).invEvery(3).build();
    }

    @Test
    void kfacThroughEasyTrainIsTheHandWrittenLoop() throws Exception {
        Map<String, double[]> initial;
        Map<String, double[]> viaDjl;
        long djlSteps;
        KfacStep last;
        try (NDManager manager = NDManager.newBaseManager();
                Model model = Model.newInstance("kfac-easytrain")) {
            ArrayDataset data = TrainingFixtures.inOrder(
                    TrainingFixtures.blobs(manager, 96, 1), TrainingFixtures.BATCH);
            model.setBlock(net());
            SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
            try (TrainerOptimizer<Kfac> opt = TrainerOptimizer.builder(model,
                            block -> kfac(block, likelihood, data)).build();
                    Trainer trainer = model.newTrainer(
                            new DefaultTrainingConfig(new LikelihoodLoss(likelihood))
                                    .optOptimizer(opt)
                                    .optDevices(new Device[] {Device.cpu()})
                                    .addTrainingListeners(TrainingListener.Defaults.basic()))) {
                trainer.initialize(INPUT);
                initial = TrainingFixtures.snapshot(model.getBlock());
                EasyTrain.fit(trainer, EPOCHS, data, null);
                viaDjl = TrainingFixtures.snapshot(model.getBlock());
                djlSteps = opt.getOptimizer().getStepCount();
                last = opt.getOptimizer().lastStep().orElseThrow();
            }
        }
        List<Double> losses = new ArrayList<>();
        Map<String, double[]> byHand;
        long handSteps;
        try (NDManager manager = NDManager.newBaseManager()) {
            ArrayDataset data = TrainingFixtures.inOrder(
                    TrainingFixtures.blobs(manager, 96, 1), TrainingFixtures.BATCH);
            Block block = net();
            block.initialize(manager, DataType.FLOAT32, INPUT);
            TrainingFixtures.load(block, initial);
            SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
            NllFunction nll = NllFunction.of(likelihood);
            try (Kfac opt = kfac(block, likelihood, data)) {
                for (int e = 0; e < EPOCHS; e++) {
                    for (Batch batch : data.getData(manager)) {
                        try (batch) {
                            opt.zeroGrad();
                            try (GradientCollector gc =
                                    Engine.getInstance().newGradientCollector()) {
                                NDArray loss = nll.nll(block, LabeledBatch.of(batch));
                                losses.add((double) loss.getFloat());
                                gc.backward(loss);
                            }
                            opt.step();
                        }
                    }
                }
                handSteps = opt.getStepCount();
            }
            byHand = TrainingFixtures.snapshot(block);
        }
        assertThat(djlSteps).isEqualTo(handSteps).isEqualTo(EPOCHS * 96 / TrainingFixtures.BATCH);
        assertThat(last.step()).isEqualTo(djlSteps - 1);
        for (String name : initial.keySet()) {
            assertThat(Dense.relError(viaDjl.get(name), initial.get(name)))
                    .as("training moved " + name).isGreaterThan(1e-3);
        }
        TrainingFixtures.assertSameParameters(viaDjl, byHand, "EasyTrain vs hand-written loop");
        int perEpoch = losses.size() / EPOCHS;
        double first = losses.subList(0, perEpoch).stream().mapToDouble(d -> d).average()
                .orElseThrow();
        double lastEpoch = losses.subList(losses.size() - perEpoch, losses.size()).stream()
                .mapToDouble(d -> d).average().orElseThrow();
        assertThat(lastEpoch).as("the loss drops").isLessThan(0.8 * first);
    }
}
