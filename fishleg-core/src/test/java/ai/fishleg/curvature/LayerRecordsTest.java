package ai.fishleg.curvature;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.Test;

/** Recording with a row limit: small passes are recorded, large ones only counted. */
class LayerRecordsTest {

    @Test
    void passesFromTheRowLimitAreCountedNotRecordedAndLeaveTheOutputAsItIs() {
        try (NDManager m = NDManager.newBaseManager()) {
            RecordingLinear layer = RecordingLinear.builder().setUnits(3).build();
            layer.initialize(m, DataType.FLOAT32, new Shape(1, 4));
            ParameterStore store = new ParameterStore(m, false);
            NDArray small = m.randomUniform(0, 1, new Shape(4, 4));
            NDArray large = m.randomUniform(0, 1, new Shape(2, 3, 4)); // 6 rows of 4
            NDArray plainSmall = layer.forward(store, new NDList(small), true).head();
            NDArray plainLarge = layer.forward(store, new NDList(large), true).head();

            LayerRecords.startRecording(layer, 5);
            NDArray recordedSmall = layer.forward(store, new NDList(small), true).head();
            NDArray countedLarge = layer.forward(store, new NDList(large), true).head();

            assertThat(LayerRecords.passes(layer)).hasSize(1);
            assertThat(LayerRecords.passes(layer).get(0).input()).isSameAs(small);
            assertThat(LayerRecords.skippedRows(layer)).isEqualTo(6);
            assertThat(recordedSmall.toFloatArray()).containsExactly(plainSmall.toFloatArray());
            assertThat(countedLarge.toFloatArray()).containsExactly(plainLarge.toFloatArray());

            LayerRecords.clear(layer);
            assertThat(LayerRecords.passes(layer)).isEmpty();
            assertThat(LayerRecords.skippedRows(layer)).isZero();

            LayerRecords.startRecording(layer); // no limit
            layer.forward(store, new NDList(large), true);
            assertThat(LayerRecords.passes(layer)).hasSize(1);
            assertThat(LayerRecords.skippedRows(layer)).isZero();
        }
    }
}
