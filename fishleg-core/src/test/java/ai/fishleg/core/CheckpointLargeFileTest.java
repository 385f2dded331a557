package ai.fishleg.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint over 2 GiB (three tensors of 800 MB) is written and read back exactly, and a single
 * tensor over 2 GiB, which DJL cannot hand over as one buffer, is refused before anything is
 * written. It needs about 2.4 GB of disk, 4 GB of native memory and a 4 GB heap, so it runs only on
 * request: {@code mvn -B -o -q -pl fishleg-core test -Dtest=CheckpointLargeFileTest
 * -Dfishleg.checkpoint.large=true}.
 */
class CheckpointLargeFileTest {

    /** 200 million int32 elements: 800 MB per tensor. */
    static final int PER_TENSOR = 200_000_000;

    @TempDir
    Path dir;

    /** A state of given arrays and no scalar state. */
    record State(List<CheckpointState.Entry> tensors) implements CheckpointState {
        @Override
        public Map<String, String> metadata() {
            return Map.of();
        }

        @Override
        public Runnable restorer(Map<String, String> metadata) {
            return () -> {};
        }
    }

    @Test
    @EnabledIfSystemProperty(named = "fishleg.checkpoint.large", matches = "true")
    void aCheckpointOverTwoGibibytesRoundTrips() throws IOException {
        Path file = dir.resolve("large.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            List<CheckpointState.Entry> tensors = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                tensors.add(new CheckpointState.Entry("t" + i,
                        m.arange(0, PER_TENSOR, 1, DataType.INT32).addi(i)));
            }
            NDArray small = m.arange(0f, 1f, 0.125f, DataType.FLOAT64);
            tensors.add(new CheckpointState.Entry("small", small));
            Checkpoint.save(new State(tensors), file, Map.of("k", "v"));
            assertThat(Files.size(file)).isGreaterThan(3L * 4 * PER_TENSOR).isGreaterThan(1L << 31);

            for (CheckpointState.Entry e : tensors) {
                e.array().muli(0); // the load must bring every value back
            }
            assertThat(Checkpoint.load(new State(tensors), file)).containsEntry("k", "v");
            for (int i = 0; i < 3; i++) {
                try (NDManager s = m.newSubManager()) {
                    NDArray want = s.arange(0, PER_TENSOR, 1, DataType.INT32).addi(i);
                    assertThat(tensors.get(i).array().eq(want).all().getBoolean()).as("t" + i).isTrue();
                }
            }
            assertThat(small.toDoubleArray()).containsExactly(0, 0.125, 0.25, 0.375, 0.5, 0.625,
                    0.75, 0.875);

            Files.delete(file);
            for (CheckpointState.Entry e : tensors) {
                e.array().close();
            }
            NDArray huge = m.zeros(new Shape(600_000_000L), DataType.INT32);
            assertThatThrownBy(() -> Checkpoint.save(new State(List.of(
                    new CheckpointState.Entry("huge", huge))), file, Map.of()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("huge of 2400000000 bytes");
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files).isEmpty();
            }
        }
    }
}
