package ai.fishleg.prune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * After the weights before a BatchNorm change, the re-estimated running statistics are the mean and
 * variance of the new activations, computed here by hand from the Linear layer's weights.
 */
class BatchNormStatisticsTest {

    static final int N = 2000;
    static final int IN = 3;
    static final int OUT = 4;

    NDManager m;
    SequentialBlock model;
    Linear linear;
    BatchNorm norm;
    NDArray x;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
        linear = Linear.builder().setUnits(OUT).build();
        norm = BatchNorm.builder().build();
        model = new SequentialBlock().add(linear).add(norm);
        model.setInitializer(new NormalInitializer(0.5f), Parameter.Type.WEIGHT);
        model.initialize(m, DataType.FLOAT64, new Shape(N, IN));
        x = Models.gaussian(m, new Rng(5), N, IN, DataType.FLOAT64).mul(2).add(1);
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    BatchSource source() {
        return manager -> {
            NDArray xi = x.duplicate();
            xi.attach(manager);
            return LabeledBatch.of(xi, xi);
        };
    }

    @Test
    void runningStatisticsBecomeThoseOfTheChangedNetwork() {
        BatchNormStatistics.recompute(model, source(), 200, m);
        // "prune": zero half of the Linear weights, as a pruning step would
        NDArray w = linear.getParameters().get("weight").getArray();
        double[] values = w.toDoubleArray();
        for (int i = 0; i < values.length; i += 2) {
            values[i] = 0;
        }
        w.set(values);
        double[] bias = linear.getParameters().get("bias").getArray().toDoubleArray();

        assertThat(BatchNormStatistics.recompute(model, source(), 200, m)).isEqualTo(1);

        // the activations by hand: z = x Wᵀ + b
        double[] xs = x.toDoubleArray();
        double[] mean = new double[OUT];
        double[] square = new double[OUT];
        for (int n = 0; n < N; n++) {
            for (int o = 0; o < OUT; o++) {
                double z = bias[o];
                for (int i = 0; i < IN; i++) {
                    z += values[o * IN + i] * xs[n * IN + i];
                }
                mean[o] += z / N;
                square[o] += z * z / N;
            }
        }
        double[] runningMean = norm.getParameters().get("runningMean").getArray().toDoubleArray();
        double[] runningVar = norm.getParameters().get("runningVar").getArray().toDoubleArray();
        for (int o = 0; o < OUT; o++) {
            double var = square[o] - mean[o] * mean[o];
            assertThat(runningMean[o]).isCloseTo(mean[o], within(1e-3 * (1 + Math.abs(mean[o]))));
            // PyTorch keeps the unbiased variance: N / (N - 1) = 1.0005 here
            assertThat(runningVar[o]).isCloseTo(var, within(2e-3 * var));
        }
        // so inference now normalises as training does on this batch
        NDArray train = model.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
        NDArray infer = model.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
        assertThat(infer.sub(train).abs().max().getDouble()).isLessThan(1e-2);
    }

    @Test
    void aModelWithoutBatchNormIsLeftAsItIs() {
        SequentialBlock plain = Models.mlp(m, DataType.FLOAT64, 3, 2);
        BatchSource never = manager -> {
            throw new AssertionError("no forward pass is needed");
        };
        assertThat(BatchNormStatistics.count(plain)).isZero();
        assertThat(BatchNormStatistics.recompute(plain, never, 5, m)).isZero();
        assertThat(BatchNormStatistics.count(model)).isEqualTo(1);
    }

    @Test
    void fewerThanOneBatchIsRefused() {
        assertThatThrownBy(() -> BatchNormStatistics.recompute(model, source(), 0, m))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 1");
    }
}
