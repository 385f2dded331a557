package ai.fishleg.datasets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxFileTest {

    @TempDir
    Path dir;

    private static int[] values(int n) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i * 37 + 11) % 256;
        }
        return v;
    }

    /** The bytes of an IDX file written by hand, to check the reader against the format itself. */
    private static byte[] idxBytes(int type, int[] dims, int dataBytes) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0);
        b.write(0);
        b.write(type);
        b.write(dims.length);
        for (int d : dims) {
            b.write(d >>> 24);
            b.write(d >>> 16);
            b.write(d >>> 8);
            b.write(d);
        }
        for (int i = 0; i < dataBytes; i++) {
            b.write(i * 7);
        }
        return b.toByteArray();
    }

    @Test
    void readsPlainFileByteForByte() throws IOException {
        Path f = dir.resolve("images-idx3-ubyte");
        Files.write(f, idxBytes(0x08, new int[] {3, 2, 4}, 24));
        IdxFile idx = IdxFile.read(f);
        assertThat(idx.dims()).containsExactly(3, 2, 4);
        assertThat(idx.count()).isEqualTo(3);
        assertThat(idx.itemSize()).isEqualTo(8);
        for (int i = 0; i < 24; i++) {
            assertThat(idx.value(i)).isEqualTo((i * 7) & 0xFF);
        }
    }

    @Test
    void readsGzipFileWhateverItsName() throws IOException {
        byte[] plain = idxBytes(0x08, new int[] {5}, 5);
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(plain);
        }
        Path f = dir.resolve("labels-without-gz-suffix");
        Files.write(f, gz.toByteArray());
        IdxFile idx = IdxFile.read(f);
        assertThat(idx.dims()).containsExactly(5);
        assertThat(idx.value(4)).isEqualTo(28);
    }

    @Test
    void writeThenReadRoundTrips() throws IOException {
        for (String name : new String[] {"a-idx3-ubyte", "a-idx3-ubyte.gz"}) {
            Path f = dir.resolve(name);
            int[] v = values(2 * 3 * 5);
            IdxFile.write(f, new int[] {2, 3, 5}, v);
            IdxFile idx = IdxFile.read(f);
            assertThat(idx.dims()).containsExactly(2, 3, 5);
            int[] back = new int[v.length];
            for (int i = 0; i < v.length; i++) {
                back[i] = idx.value(i);
            }
            assertThat(back).containsExactly(v);
        }
    }

    @Test
    void truncatedDataIsReportedWithTheFileAndTheCounts() throws IOException {
        Path f = dir.resolve("short-idx3-ubyte");
        Files.write(f, idxBytes(0x08, new int[] {10, 2, 2}, 25));
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("truncated")
                .hasMessageContaining("40")
                .hasMessageContaining("25");
    }

    @Test
    void truncatedHeaderIsReported() throws IOException {
        Path f = dir.resolve("header-idx3-ubyte");
        Files.write(f, Arrays.copyOf(idxBytes(0x08, new int[] {10, 2, 2}, 0), 9));
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("truncated");
    }

    @Test
    void truncatedGzipIsReported() throws IOException {
        Path full = dir.resolve("full.gz");
        IdxFile.write(full, new int[] {50, 28, 28}, values(50 * 28 * 28));
        byte[] gz = Files.readAllBytes(full);
        Path f = dir.resolve("cut-idx3-ubyte.gz");
        Files.write(f, Arrays.copyOf(gz, gz.length / 2));
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString());
    }

    @Test
    void wrongMagicIsReported() throws IOException {
        Path f = dir.resolve("not-idx");
        byte[] b = idxBytes(0x08, new int[] {4}, 4);
        b[0] = 0x12;
        b[1] = 0x34;
        Files.write(f, b);
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("magic number 0x12340801");
    }

    @Test
    void unsupportedTypeCodeIsReported() throws IOException {
        Path f = dir.resolve("floats-idx1");
        Files.write(f, idxBytes(0x0D, new int[] {1}, 4));
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("0x0d");
    }

    @Test
    void bytesAfterTheDeclaredDataAreReported() throws IOException {
        Path f = dir.resolve("long-idx1-ubyte");
        Files.write(f, idxBytes(0x08, new int[] {4}, 6));
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining("follow");
    }

    @Test
    void missingFileIsReported() {
        Path f = dir.resolve("absent-idx3-ubyte.gz");
        assertThatThrownBy(() -> IdxFile.read(f))
                .isInstanceOf(DataException.class)
                .hasMessage(f + ": file not found");
    }
}
