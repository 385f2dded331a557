package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.GaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import org.junit.jupiter.api.Test;

/**
 * Native memory stays bounded over a long run: the number of live arrays in the model's manager
 * (which also holds the optimizer's manager) does not grow with the number of steps.
 */
class MemoryBoundTest {

    @Test
    void liveArraysStayBoundedOverManySteps() {
        Rng rng = new Rng(1);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = Models.gaussian(m, rng, 128, 4, DataType.FLOAT32);
            NDArray y = x.gt(0).toType(DataType.FLOAT32, false);
            Block model = Models.mlp(m, DataType.FLOAT32, 4, 6, 4);
            FishLikelihood lik = new BernoulliLikelihood();
            NllFunction nll = NllFunction.of(lik);
            GaussianLikelihood unusedButManaged = new GaussianLikelihood(m, 1.0, DataType.FLOAT32);
            BatchSource train = BatchSources.randomBatches(x, y, 16, 2);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll,
                            BatchSources.randomBatches(x, y, 16, 3))
                    .likelihood(unusedButManaged).updateAuxEvery(-1).auxLr(1e-3).build()) {
                int[] counts = new int[3];
                int steps = 2000;
                for (int t = 0; t < steps; t++) {
                    try (NDManager batch = m.newSubManager()) {
                        Models.trainStep(opt, model, nll, train.next(batch));
                    }
                    if (t == 99) {
                        counts[0] = m.getManagedArrays().size();
                    } else if (t == 999) {
                        counts[1] = m.getManagedArrays().size();
                    } else if (t == steps - 1) {
                        counts[2] = m.getManagedArrays().size();
                    }
                }
                assertThat(counts[1]).as("live arrays after 1000 vs 100 steps").isEqualTo(counts[0]);
                assertThat(counts[2]).as("live arrays after 2000 vs 100 steps").isEqualTo(counts[0]);
            }
        }
    }
}
