package ai.fishleg.core;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint over 2 GiB, with one tensor over 2 GiB, is written and read back exactly. It needs
 * about 2.4 GB of disk, 5 GB of native memory and a 4 GB heap, so it runs only on request: {@code
 * mvn -B -o -q -pl fishleg-core test -Dtest=CheckpointLargeFileTest -Dfishleg.checkpoint.large=true}.
 */
class CheckpointLargeFileTest {

    /** 600 million int32 elements: 2.4 GB, more than 2³¹ bytes. */
    static final long LARGE = 600_000_000L;

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
            NDArray big = m.arange(0, (int) LARGE, 1, DataType.INT32);
            NDArray small = m.arange(0f, 1f, 0.125f, DataType.FLOAT64);
            Checkpoint.save(new State(List.of(new CheckpointState.Entry("big", big),
                    new CheckpointState.Entry("small", small))), file, Map.of("k", "v"));
            assertThat(Files.size(file)).isGreaterThan(LARGE * 4).isGreaterThan(1L << 31);

            NDArray big2 = m.zeros(big.getShape(), DataType.INT32);
            NDArray small2 = m.zeros(small.getShape(), DataType.FLOAT64);
            Map<String, String> user = Checkpoint.load(new State(List.of(
                    new CheckpointState.Entry("big", big2),
                    new CheckpointState.Entry("small", small2))), file);
            assertThat(user).containsEntry("k", "v");
            assertThat(big2.eq(big).all().getBoolean()).isTrue();
            assertThat(big2.getInt(LARGE - 1)).isEqualTo((int) LARGE - 1);
            assertThat(small2.toDoubleArray()).containsExactly(small.toDoubleArray());
        }
    }
}
