package ai.fishleg.datasets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistFolderTest {

    @TempDir
    Path dir;

    /** Writes a tiny MNIST-format folder: pixel (i, k) = (i + k) % 256, label i % 10. */
    static void writeFolder(Path dir, int train, int test, boolean gzip) throws IOException {
        String gz = gzip ? ".gz" : "";
        writeSplit(dir, "train", train, gz);
        writeSplit(dir, "t10k", test, gz);
    }

    private static void writeSplit(Path dir, String prefix, int n, String gz) throws IOException {
        int[] pixels = new int[n * 28 * 28];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 784; k++) {
                pixels[i * 784 + k] = (i + k) % 256;
            }
        }
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = i % 10;
        }
        IdxFile.write(dir.resolve(prefix + "-images-idx3-ubyte" + gz), new int[] {n, 28, 28}, pixels);
        IdxFile.write(dir.resolve(prefix + "-labels-idx1-ubyte" + gz), new int[] {n}, labels);
    }

    @Test
    void loadsBothSplitsScaledToUnitInterval() throws IOException {
        writeFolder(dir, 12, 5, true);
        ImageDataset d = MnistFolder.load(dir, "Test");
        assertThat(d.train().count()).isEqualTo(12);
        assertThat(d.test().count()).isEqualTo(5);
        assertThat(d.train().height()).isEqualTo(28);
        assertThat(d.train().labels()).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1);
        // pixel (3, 100) = 103 / 255
        assertThat(d.train().pixels()[3 * 784 + 100]).isEqualTo(103 / 255f);
        assertThat(d.name()).contains(dir.toString());
    }

    @Test
    void acceptsPlainFilesAndLimitsSizes() throws IOException {
        writeFolder(dir, 12, 5, false);
        ImageDataset d = MnistFolder.load(dir, "Test").limit(4, 2);
        assertThat(d.train().count()).isEqualTo(4);
        assertThat(d.test().labels()).containsExactly(0, 1);
        assertThat(d.train().pixels()).hasSize(4 * 784);
    }

    @Test
    void missingFileIsNamed() throws IOException {
        writeFolder(dir, 3, 3, true);
        Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
        assertThatThrownBy(() -> MnistFolder.load(dir, "Test"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("t10k-labels-idx1-ubyte")
                .hasMessageContaining("file not found");
    }

    @Test
    void countMismatchNamesBothFiles() throws IOException {
        writeFolder(dir, 4, 3, true);
        IdxFile.write(dir.resolve("train-labels-idx1-ubyte.gz"), new int[] {3}, new int[] {1, 2, 3});
        assertThatThrownBy(() -> MnistFolder.load(dir, "Test"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("train-images-idx3-ubyte.gz holds 4 images")
                .hasMessageContaining("train-labels-idx1-ubyte.gz holds 3 labels");
    }

    @Test
    void labelOutOfRangeIsReported() throws IOException {
        writeFolder(dir, 2, 2, true);
        IdxFile.write(dir.resolve("t10k-labels-idx1-ubyte.gz"), new int[] {2}, new int[] {3, 12});
        assertThatThrownBy(() -> MnistFolder.load(dir, "Test"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("t10k-labels-idx1-ubyte.gz")
                .hasMessageContaining("label 12 of item 1");
    }

    @Test
    void imagesWithWrongRankAreReported() throws IOException {
        writeFolder(dir, 2, 2, true);
        IdxFile.write(dir.resolve("train-images-idx3-ubyte.gz"), new int[] {2, 784}, new int[2 * 784]);
        assertThatThrownBy(() -> MnistFolder.load(dir, "Test"))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("train-images-idx3-ubyte.gz")
                .hasMessageContaining("3 dimensions");
    }

    @Test
    void missingFolderIsNamed() {
        Path nowhere = dir.resolve("nowhere");
        assertThatThrownBy(() -> MnistFolder.load(nowhere, "Test"))
                .isInstanceOf(DataException.class)
                .hasMessage(nowhere + ": data folder not found");
    }
}
