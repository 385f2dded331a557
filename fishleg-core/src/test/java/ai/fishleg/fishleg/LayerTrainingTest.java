package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.FishConvolution;
import ai.fishleg.fishleg.blocks.FishEmbedding;
import ai.fishleg.fishleg.blocks.FishLinear;
import ai.fishleg.fishleg.blocks.FishNormalization;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.LayerModels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * FishLeg trains real DJL models made of every supported layer type on generated data: the loss
 * falls, nothing becomes NaN, and BatchNorm's running statistics are exactly those produced by the
 * user's training batches (the auxiliary passes, which run the model in training mode, leave them
 * as they were).
 */
class LayerTrainingTest {

    private static final int STEPS = 40;
    private static final int BATCH = 32;

    @Test
    void smallCnnTrainsAndRunningStatisticsFollowTrainingBatchesOnly() {
        try (NDManager manager = NDManager.newBaseManager()) {
            DataType type = DataType.FLOAT32; // the library must run in float32 too
            SequentialBlock model = LayerModels.cnn(manager, type);
            LabeledBatch data = LayerModels.images(manager, 512, type, new Rng(5));
            SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
            NllFunction nll = NllFunction.of(likelihood);
            BatchSource train = BatchSources.randomBatches(data.input(), data.label(), BATCH, 6);
            BatchSource aux = BatchSources.randomBatches(data.input(), data.label(), BATCH, 7);
            Parameter runningMean = parameter(model, "02BatchNorm_runningMean");
            Parameter runningVar = parameter(model, "02BatchNorm_runningVar");
            Block conv = model.getChildren().get(0).getValue();

            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll, aux)
                    .fishLr(0.05).damping(0.5).beta(0.9).updateAuxEvery(1).auxLr(1e-3)
                    .build()) {
                assertThat(opt.managedNames())
                        .containsExactly("01Conv2d", "02BatchNorm", "06Linear");
                assertThat(opt.getBlock("01Conv2d")).isInstanceOf(FishConvolution.class);
                assertThat(opt.getBlock("02BatchNorm")).isInstanceOf(FishNormalization.class);
                assertThat(opt.getBlock("06Linear")).isInstanceOf(FishLinear.class);
                assertThat(opt.getUnmanagedParameters()).isEmpty();

                List<Double> losses = new ArrayList<>();
                for (int step = 0; step < STEPS; step++) {
                    try (NDManager s = manager.newSubManager()) {
                        LabeledBatch batch = train.next(s);
                        double[] mean0 = Dense.values(runningMean.getArray());
                        double[] var0 = Dense.values(runningVar.getArray());
                        // What this batch must do to the statistics (momentum 0.9, unbiased var).
                        double[][] expected = expectedStatistics(conv, batch.input(), mean0, var0);

                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray loss = nll.nll(model, batch);
                            losses.add(Tensors.scalar(loss));
                            gc.backward(loss);
                        }
                        double[] meanAfterForward = Dense.values(runningMean.getArray());
                        assertThat(Dense.relError(meanAfterForward, expected[0]))
                                .as("the training forward moves the running mean").isLessThan(1e-5);
                        assertThat(Dense.relError(meanAfterForward, mean0)).isGreaterThan(1e-4);

                        opt.step(); // one auxiliary update + parameter update

                        assertThat(Dense.values(runningMean.getArray()))
                                .as("step %d: running mean after the auxiliary passes", step)
                                .containsExactly(meanAfterForward);
                        assertThat(Dense.relError(Dense.values(runningVar.getArray()), expected[1]))
                                .as("step %d: running variance", step).isLessThan(1e-5);
                    }
                }
                assertFinite(model, opt);
                assertLossFalls(losses);
                assertThat(opt.getAuxUpdateCount()).isEqualTo(STEPS);
            }
        }
    }

    @Test
    void embeddingLayerNormModelTrainsWithAntitheticEstimator() {
        try (NDManager manager = NDManager.newBaseManager()) {
            DataType type = DataType.FLOAT64;
            SequentialBlock model = LayerModels.embeddingModel(manager, type);
            LabeledBatch data = LayerModels.tokens(manager, 512, type, new Rng(8));
            SoftMaxLikelihood likelihood = new SoftMaxLikelihood();
            NllFunction nll = NllFunction.of(likelihood);
            BatchSource train = BatchSources.randomBatches(data.input(), data.label(), BATCH, 9);
            BatchSource aux = BatchSources.randomBatches(data.input(), data.label(), BATCH, 10);
            Parameter table = parameter(model, "01TrainableWordEmbedding_embedding");
            double[] tableBefore = Dense.values(table.getArray());

            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll, aux)
                    .fishLr(0.05).damping(0.5).updateAuxEvery(2).auxLr(1e-3).scale(2)
                    .estimator(Estimator.ANTITHETIC).preconditionAux(true).build()) {
                assertThat(opt.managedNames())
                        .containsExactly("01TrainableWordEmbedding", "02LayerNorm", "04Linear");
                assertThat(opt.getBlock("01TrainableWordEmbedding"))
                        .isInstanceOf(FishEmbedding.class);
                assertThat(opt.getBlock("02LayerNorm")).isInstanceOf(FishNormalization.class);

                List<Double> losses = new ArrayList<>();
                for (int step = 0; step < STEPS; step++) {
                    try (NDManager s = manager.newSubManager()) {
                        LabeledBatch batch = train.next(s);
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray loss = nll.nll(model, batch);
                            losses.add(Tensors.scalar(loss));
                            gc.backward(loss);
                        }
                        opt.step();
                    }
                }
                assertFinite(model, opt);
                assertLossFalls(losses);
                assertThat(Dense.relError(Dense.values(table.getArray()), tableBefore))
                        .as("the embedding table was trained").isGreaterThan(1e-3);
            }
        }
    }

    // --------------------------------------------------------------------------------------

    /** Mean of the last five losses below 60% of the mean of the first five. */
    static void assertLossFalls(List<Double> losses) {
        double first = losses.subList(0, 5).stream().mapToDouble(d -> d).average().orElseThrow();
        double last = losses.subList(losses.size() - 5, losses.size()).stream()
                .mapToDouble(d -> d).average().orElseThrow();
        assertThat(last).as("loss fell from %s (first five) ; all %s", first, losses)
                .isLessThan(0.6 * first);
    }

    static void assertFinite(Block model, FishLeg opt) {
        for (Pair<String, Parameter> p : model.getParameters()) {
            assertThat(Tensors.isFinite(p.getValue().getArray())).as(p.getKey()).isTrue();
        }
        for (CurvatureBlock b : opt.getBlocks()) {
            for (Map.Entry<String, NDArray> a : b.getAuxParameters().entrySet()) {
                assertThat(Tensors.isFinite(a.getValue())).as(b + " " + a.getKey()).isTrue();
            }
        }
        assertThat(opt.getAuxLoss()).isFinite();
    }

    static Parameter parameter(Block model, String name) {
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getKey().equals(name)) {
                return p.getValue();
            }
        }
        throw new AssertionError("no parameter " + name + " in " + model.getParameters().keys());
    }

    /**
     * The running mean and variance after one training forward on {@code x}, computed from the
     * batch statistics of the BatchNorm input (the convolution's output): DJL's momentum 0.9
     * keeps 90% of the old value, and the variance is the unbiased batch variance.
     */
    static double[][] expectedStatistics(Block conv, NDArray x, double[] mean0, double[] var0) {
        double[] out;
        long[] shape;
        try (NDManager s = x.getManager().newSubManager()) {
            NDList y = conv.forward(new ParameterStore(s, false), new NDList(x), false);
            shape = y.head().getShape().getShape();
            out = Dense.values(y.head());
        }
        int b = (int) shape[0];
        int c = (int) shape[1];
        int hw = (int) (shape[2] * shape[3]);
        double[] mean = new double[c];
        double[] var = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < hw; j++) {
                    sum += out[(i * c + ch) * hw + j];
                }
            }
            double mu = sum / (b * hw);
            double sq = 0;
            for (int i = 0; i < b; i++) {
                for (int j = 0; j < hw; j++) {
                    double d = out[(i * c + ch) * hw + j] - mu;
                    sq += d * d;
                }
            }
            mean[ch] = 0.9 * mean0[ch] + 0.1 * mu;
            var[ch] = 0.9 * var0[ch] + 0.1 * sq / (b * hw - 1);
        }
        return new double[][] {mean, var};
    }
}
