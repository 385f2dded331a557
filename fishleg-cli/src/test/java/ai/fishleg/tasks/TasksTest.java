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
    void theWideAutoencoderHasTheWiderLayersAndOtherwiseTheFmnistAutoencodersSetUp() {
        Task wide = Tasks.get("fmnist-wide-autoencoder");
        try (NDManager m = NDManager.newBaseManager()) {
            Block model = wide.newModel();
            // DJL's own initialisation: only the shapes matter here, and it is faster than the seeded one
            model.initialize(m, DataType.FLOAT32, wide.inputShape(1));
            // the widths as the parameters' shapes give them: weight (out, in), bias (out)
            List<Long> widths = new ArrayList<>();
            Shape lastWeight = null;
            for (Pair<String, Parameter> p : model.getParameters()) {
                Shape shape = p.getValue().getArray().getShape();
                if (p.getValue().getType() == Parameter.Type.WEIGHT) {
                    assertThat(shape.dimension()).as(p.getKey()).isEqualTo(2);
                    if (widths.isEmpty()) {
                        widths.add(shape.get(1));
                    }
                    assertThat(shape.get(1)).as("%s takes the previous layer's outputs", p.getKey())
                            .isEqualTo(widths.get(widths.size() - 1));
                    widths.add(shape.get(0));
                    lastWeight = shape;
                } else {
                    assertThat(p.getValue().getType()).as(p.getKey()).isEqualTo(Parameter.Type.BIAS);
                    assertThat(shape).as(p.getKey()).isEqualTo(new Shape(lastWeight.get(0)));
                }
            }
            assertThat(widths).containsExactly(784L, 2000L, 1000L, 500L, 30L, 500L, 1000L, 2000L, 784L);
            NDArray x = m.ones(wide.inputShape(2));
            NDArray y = model.forward(new ParameterStore(m, false), new NDList(x), false).singletonOrThrow();
            assertThat(y.getShape()).isEqualTo(new Shape(2, 784));
        }
        Task fmnist = Tasks.get("fmnist-autoencoder");
        assertThat(wide.summary()).startsWith("Fashion-MNIST auto-encoder 784-2000-1000-500-30 (mirrored)");
        assertThat(wide.kind()).isEqualTo(fmnist.kind());
        assertThat(wide.source()).isEqualTo(fmnist.source());
        assertThat(wide.newLikelihood()).hasSameClassAs(fmnist.newLikelihood());
        assertThat(wide.batchSize()).isEqualTo(100).isEqualTo(fmnist.batchSize());
        assertThat(wide.epochs()).isEqualTo(fmnist.epochs());
        assertThat(wide.init()).isEqualTo(fmnist.init());
        assertThat(wide.fishLegPreset()).isEqualTo(fmnist.fishLegPreset());
        assertThat(wide.kfacPreset()).isEqualTo(fmnist.kfacPreset());
        assertThat(wide.adamPreset()).isEqualTo(fmnist.adamPreset());
        assertThat(wide.sgdPreset()).isEqualTo(fmnist.sgdPreset());
        // MuonLayers has no equals: field by field
        assertThat(wide.muonPreset()).usingRecursiveComparison().isEqualTo(fmnist.muonPreset());
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
