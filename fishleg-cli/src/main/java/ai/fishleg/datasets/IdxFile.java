package ai.fishleg.datasets;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;

/**
 * One file in the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed (detected from
 * the content, not the name).
 *
 * <p>Format: two zero bytes, a type code ({@code 0x08}: unsigned byte, the only type these data
 * sets use), the number of dimensions, then each dimension as a big-endian 32-bit integer, then
 * the values in row-major order. Nothing may follow the values.
 *
 * @param path where it was read from
 * @param dims the dimensions (first: number of items)
 * @param data the values, unsigned bytes stored in Java bytes (read with {@code & 0xFF})
 */
public record IdxFile(Path path, int[] dims, byte[] data) {

    /** Type code of unsigned bytes. */
    public static final int UNSIGNED_BYTE = 0x08;

    private static final int MAX_DIMS = 4;

    /** @return the number of items (the first dimension) */
    public int count() {
        return dims[0];
    }

    /** @return the number of values per item (the product of the other dimensions) */
    public int itemSize() {
        int n = 1;
        for (int i = 1; i < dims.length; i++) {
            n *= dims[i];
        }
        return n;
    }

    /**
     * @param i an index into {@link #data()}
     * @return the value there, 0..255
     */
    public int value(int i) {
        return data[i] & 0xFF;
    }

    /**
     * Reads and checks a file.
     *
     * @param path the file
     * @return its content
     * @throws DataException naming the file when it is missing, truncated, compressed wrongly or
     *     not an IDX file of unsigned bytes
     */
    public static IdxFile read(Path path) {
        if (!Files.isRegularFile(path)) {
            throw new DataException(path + (Files.exists(path) ? ": not a regular file" : ": file not found"));
        }
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            InputStream in = isGzip(raw) ? new BufferedInputStream(new GZIPInputStream(raw), 1 << 16) : raw;
            return parse(path, new DataInputStream(in));
        } catch (NoSuchFileException e) {
            throw new DataException(path + ": file not found", e);
        } catch (ZipException e) {
            throw new DataException(path + ": corrupt gzip data (" + e.getMessage() + ")", e);
        } catch (EOFException e) {
            throw new DataException(path + ": truncated (the file ends inside the IDX header)", e);
        } catch (IOException e) {
            throw new DataException(path + ": cannot be read (" + e.getMessage() + ")", e);
        }
    }

    private static boolean isGzip(InputStream in) throws IOException {
        in.mark(2);
        int b0 = in.read();
        int b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b;
    }

    private static IdxFile parse(Path path, DataInputStream in) throws IOException {
        int zero0 = in.readUnsignedByte();
        int zero1 = in.readUnsignedByte();
        int type = in.readUnsignedByte();
        int rank = in.readUnsignedByte();
        if (zero0 != 0 || zero1 != 0) {
            throw new DataException(String.format(
                    "%s: not an IDX file (wrong magic number 0x%02x%02x%02x%02x; an IDX file starts"
                            + " with 0x0000 followed by its type code and number of dimensions,"
                            + " e.g. 0x00000803 for images)",
                    path, zero0, zero1, type, rank));
        }
        if (type != UNSIGNED_BYTE) {
            throw new DataException(String.format(
                    "%s: IDX type code 0x%02x is not supported (only 0x08, unsigned bytes, as in"
                            + " MNIST and Fashion-MNIST)", path, type));
        }
        if (rank < 1 || rank > MAX_DIMS) {
            throw new DataException(
                    path + ": IDX header declares " + rank + " dimensions; expected 1 to " + MAX_DIMS);
        }
        int[] dims = new int[rank];
        long total = 1;
        for (int d = 0; d < rank; d++) {
            dims[d] = in.readInt();
            if (dims[d] <= 0) {
                throw new DataException(
                        path + ": IDX dimension " + d + " is " + dims[d] + "; dimensions must be positive");
            }
            total *= dims[d];
            if (total > Integer.MAX_VALUE - 8) {
                throw new DataException(path + ": IDX header declares " + Arrays.toString(dims)
                        + ", too many values for one array");
            }
        }
        byte[] data = new byte[(int) total];
        int read = in.readNBytes(data, 0, data.length);
        if (read < data.length) {
            throw new DataException(String.format(
                    "%s: truncated: the header declares %s = %d values but the file holds only %d",
                    path, Arrays.toString(dims), total, read));
        }
        long extra = in.skip(Long.MAX_VALUE);
        if (extra > 0 || in.read() >= 0) {
            throw new DataException(String.format(
                    "%s: %s bytes follow the %d values declared by the header %s; the file is corrupt"
                            + " or not the file it is named after",
                    path, extra > 0 ? Long.toString(extra) : "extra", total, Arrays.toString(dims)));
        }
        return new IdxFile(path, dims, data);
    }

    /**
     * Writes an IDX file of unsigned bytes, gzip-compressed when the name ends in {@code .gz}
     * (used to make small test data sets).
     *
     * @param path where to write
     * @param dims the dimensions
     * @param values the values, 0..255, row-major
     * @throws IOException if writing fails
     */
    public static void write(Path path, int[] dims, int[] values) throws IOException {
        try (OutputStream file = Files.newOutputStream(path);
                OutputStream out = path.toString().endsWith(".gz") ? new GZIPOutputStream(file) : file;
                DataOutputStream data = new DataOutputStream(new BufferedOutputStream(out))) {
            data.writeShort(0);
            data.writeByte(UNSIGNED_BYTE);
            data.writeByte(dims.length);
            for (int d : dims) {
                data.writeInt(d);
            }
            for (int v : values) {
                data.writeByte(v);
            }
        }
    }
}
