package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.fishleg.tasks.BaselineSettings;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Adam run by the command line is the one its summary describes. */
class DjlRuleTest {

    @Test
    void adamStepsWithTheSettingsItRecords() {
        double lr = 0.1;
        // loss = Σ W x, so the gradient of W is x in every row, whatever W is
        float[][] inputs = {{1f, -2f, 0.5f}, {-3f, 1f, 4f}, {0.25f, 6f, -1f}};
        try (NDManager manager = NDManager.newBaseManager()) {
            Linear model = Linear.builder().setUnits(2).optBias(false).build();
            model.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
            Parameter weight = model.getParameters().get("weight");
            weight.getArray().set(new float[6]);
            ParameterStore ps = new ParameterStore(manager, false);
            try (DjlRule rule = new DjlRule(OptimizerKind.ADAM, model, new BaselineSettings(lr, 0, 0))) {
                Map<String, Object> hp = rule.hyperparameters();
                double b1 = (Double) hp.get("beta1");
                double b2 = (Double) hp.get("beta2");
                double eps = (Double) hp.get("eps");
                assertThat(hp.get("lr")).isEqualTo(lr);
                double[] m = new double[3];
                double[] v = new double[3];
                double[] w = new double[3];
                for (int t = 1; t <= inputs.length; t++) {
                    rule.zeroGrad();
                    try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
                        NDArray x = manager.create(inputs[t - 1], new Shape(1, 3));
                        NDArray out = model.forward(ps, new NDList(x), true).singletonOrThrow();
                        gc.backward(out.sum());
                    }
                    rule.step();
                    // Adam (Kingma and Ba) as DJL writes it: bias corrections folded into the rate
                    double rate = lr * Math.sqrt(1 - Math.pow(b2, t)) / (1 - Math.pow(b1, t));
                    for (int j = 0; j < 3; j++) {
                        double g = inputs[t - 1][j];
                        m[j] = b1 * m[j] + (1 - b1) * g;
                        v[j] = b2 * v[j] + (1 - b2) * g * g;
                        w[j] -= rate * m[j] / (Math.sqrt(v[j]) + eps);
                    }
                }
                float[] actual = weight.getArray().toFloatArray();
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 3; j++) {
                        assertThat((double) actual[i * 3 + j]).as("W[%d][%d]", i, j).isCloseTo(w[j], within(1e-6));
                    }
                }
            }
        }
    }
}
