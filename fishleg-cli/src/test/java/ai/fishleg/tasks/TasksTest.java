package ai.fishleg.tasks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.fishleg.datasets.DataException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TasksTest {

    @TempDir
    Path dir;

    private static List<Long> linearWidths(Block model) {
        List<Long> widths = new ArrayList<>();
        for (Pair<String, Block> child : model.getChildren()) {
            if (child.getValue() instanceof Linear) {
                Parameter w = child.getValue().getDirectParameters().get("weight");
                widths.add(w.getArray().getShape().get(0));
            }
        }
        return widths;
    }

    @Test
    void autoencodersHaveThePapersWidthsAndReconstructTheInputShape() {
        try (NDManager m = NDManager.newBaseManager()) {
            Task curves = Tasks.get("curves-autoencoder");
            Block c = curves.newModel();
            ModelInit.initialize(c, m, DataType.FLOAT32, curves.inputShape(2), ModelInit.Scheme.PYTORCH, 1);
            assertThat(linearWidths(c)).containsExactly(400L, 200L, 100L, 50L, 25L, 6L, 25L, 50L, 100L,
                    200L, 400L, 784L);
            Task fmnist = Tasks.get("fmnist-autoencoder");
            Block f = fmnist.newModel();
            ModelInit.initialize(f, m, DataType.FLOAT32, fmnist.inputShape(2), ModelInit.Scheme.PYTORCH, 1);
            assertThat(linearWidths(f)).containsExactly(1000L, 500L, 250L, 30L, 250L, 500L, 1000L, 784L);
            // ReLU after every layer except the code and output layers: 8 Linear + 6 ReLU
            assertThat(f.getChildren().size()).isEqualTo(14);
            NDArray x = m.ones(new Shape(2, 784));
            NDArray y = f.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(2, 784));
        }
    }

    @Test
    void cnnMapsImagesToClassLogits() {
        try (NDManager m = NDManager.newBaseManager()) {
            Task cnn = Tasks.get("fmnist-cnn");
            Block b = cnn.newModel();
            ModelInit.initialize(b, m, DataType.FLOAT32, cnn.inputShape(3), ModelInit.Scheme.PYTORCH, 1);
            NDArray x = m.ones(cnn.inputShape(3));
            NDArray y = b.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(3, 10));
        }
    }

    @Test
    void initializationDependsOnlyOnTheSeedAndRespectsFanIn() {
        Task task = Tasks.get("fmnist-mlp");
        try (NDManager m = NDManager.newBaseManager()) {
            Block a = task.newModel();
            Block b = task.newModel();
            Block c = task.newModel();
            ModelInit.initialize(a, m, DataType.FLOAT32, task.inputShape(1), ModelInit.Scheme.PYTORCH, 42);
            ModelInit.initialize(b, m, DataType.FLOAT32, task.inputShape(1), ModelInit.Scheme.PYTORCH, 42);
            ModelInit.initialize(c, m, DataType.FLOAT32, task.inputShape(1), ModelInit.Scheme.PYTORCH, 43);
            var pa = a.getParameters();
            var pb = b.getParameters();
            var pc = c.getParameters();
            for (int i = 0; i < pa.size(); i++) {
                float[] va = pa.get(i).getValue().getArray().toFloatArray();
                assertThat(va).isEqualTo(pb.get(i).getValue().getArray().toFloatArray());
                assertThat(va).isNotEqualTo(pc.get(i).getValue().getArray().toFloatArray());
            }
            // first layer: fan-in 784, bound 1/28; uniform, so the extremes come close to the bound
            float[] w = pa.get(0).getValue().getArray().toFloatArray();
            float max = 0;
            for (float v : w) {
                max = Math.max(max, Math.abs(v));
            }
            assertThat(max).isLessThanOrEqualTo(1f / 28).isGreaterThan(0.99f / 28);
        }
    }

    @Test
    void unknownTaskListsTheKnownOnes() {
        assertThatThrownBy(() -> Tasks.get("cifar"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("unknown task 'cifar'")
                .hasMessageContaining("fmnist-autoencoder");
    }

    @Test
    void mnistWithoutAFolderSaysHowToGiveOne() {
        assertThatThrownBy(() -> Tasks.get("mnist-autoencoder").loadData(null, null, 0, 0))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("--data DIR")
                .hasMessageContaining("FISHLEG_DATA");
    }

    @Test
    void curvesRejectsADataFolder() {
        assertThatThrownBy(() -> Tasks.get("curves-autoencoder").loadData(dir, null, 5, 5))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--data is not used");
    }
}
