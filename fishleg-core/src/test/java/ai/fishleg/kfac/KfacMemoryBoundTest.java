package ai.fishleg.kfac;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import org.junit.jupiter.api.Test;

/**
 * Native memory stays bounded over a long K-FAC run in float32: the number of live arrays under
 * the model's manager is the same after 100, 500 and 600 steps (statistics, inversions, both
 * preconditioning forms, and momentum SGD for a plain Linear and a user block's parameter).
 */
class KfacMemoryBoundTest {

    @Test
    void liveArraysStayBoundedOverManySteps() {
        Rng rng = new Rng(1);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = Models.gaussian(m, rng, 64, 4, DataType.FLOAT32);
            NDArray y = x.gt(0).toType(DataType.FLOAT32, false);
            SequentialBlock model = new SequentialBlock()
                    .add(RecordingLinear.builder().setUnits(12).build())
                    .add(Activation::tanh)
                    .add(new Models.Scale(12))
                    .add(Linear.builder().setUnits(6).build())
                    .add(Activation::tanh)
                    .add(RecordingLinear.builder().setUnits(4).build());
            Engine.getInstance().setRandomSeed(2);
            model.initialize(m, DataType.FLOAT32, new Shape(1, 4));
            FishLikelihood lik = new BernoulliLikelihood();
            NllFunction nll = NllFunction.of(lik);
            BatchSource train = BatchSources.randomBatches(x, y, 4, 2);
            try (Kfac opt = Kfac.builder(model, DrawFunction.of(lik), nll,
                            BatchSources.randomBatches(x, y, 8, 3))
                    .covEvery(2).invEvery(4).lr(0.01).build()) {
                int[] counts = new int[3];
                for (int t = 0; t < 600; t++) {
                    try (NDManager batch = m.newSubManager()) {
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            gc.backward(nll.nll(model, train.next(batch)));
                        }
                        opt.step();
                    }
                    if (t == 99) {
                        counts[0] = m.getManagedArrays().size();
                    } else if (t == 499) {
                        counts[1] = m.getManagedArrays().size();
                    } else if (t == 599) {
                        counts[2] = m.getManagedArrays().size();
                    }
                }
                assertThat(opt.lastStep().orElseThrow().factoredBlocks()).as("the 12-unit layer, batch 4").isOne();
                assertThat(counts[1]).as("live arrays after 500 vs 100 steps").isEqualTo(counts[0]);
                assertThat(counts[2]).as("live arrays after 600 vs 100 steps").isEqualTo(counts[0]);
            }
        }
    }
}
