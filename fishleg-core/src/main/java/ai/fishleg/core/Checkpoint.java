package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Saving and restoring the complete state of an optimizer run (for FishLeg: the model's
 * parameters, running statistics included, λ, momentum, stored gradients u, θ0, the auxiliary
 * Adam's moments and step counts, the counters and every random generator it can reach; see
 * {@link CheckpointState}) in a <a href="https://huggingface.co/docs/safetensors">safetensors</a>
 * file, so that the weights and λ can also be opened elsewhere, for example in Python with
 * {@code safetensors.numpy.load_file}.
 *
 * <h2>File format, version {@value #FORMAT_VERSION}</h2>
 *
 * <pre>
 *   bytes 0..7     header length H, unsigned 64-bit little-endian
 *   next H bytes   header: UTF-8 JSON, padded with spaces so that the data starts at a multiple of 8
 *   then           the data: every tensor, raw little-endian, packed in header order
 * </pre>
 *
 * The header maps each tensor name to {@code {"dtype": "F32"|"F64"|"I32"|"I64", "shape": [...],
 * "data_offsets": [begin, end]}} (byte offsets into the data) and holds the string-to-string map
 * {@code __metadata__}: {@code format} ({@value #FORMAT}), {@code formatVersion}, {@code crc32}
 * (the CRC-32 of the data, 8 hex digits), the state's own entries under {@code state.} (for the
 * optimizers of this library one entry, {@code state.fishleg}, {@code state.kfac} or {@code
 * state.muon}: a JSON object of the optimizer's scalar state, see {@link StateMetadata}) and the
 * caller's under {@code user.}. Nothing precedes or follows the safetensors layout, so any
 * safetensors reader opens the file, DJL's {@code NDList.decode} among them. DJL's own safetensors
 * encoder ({@code NDList.Encoding.SAFETENSORS}) is not used: it writes no {@code __metadata__}, and
 * its decoder drops it, while the scalar state and the checksum live there.
 *
 * <p>A save is atomic: the file is written beside the target, flushed to disk, then moved over the
 * target in one step, so an interrupted save never leaves a half-written file in place of a good
 * one. A load checks everything (the header, the format and its version, the length, the
 * checksum, that every tensor name, shape and type matches the state, and the saved scalar state)
 * before it changes anything, and its error says exactly what is wrong.
 *
 * <p>Neither a save nor a load holds the whole file in memory: both stream it, and a load reads it
 * twice through one open handle (the header and the checksum of the data first, then the tensors
 * one at a time, in the order of the file). What is held at once is one tensor's elements, as a
 * Java array of its type. A single tensor is limited to 2<sup>31</sup>−1 bytes (DJL moves a tensor's
 * data through one Java buffer; a save refuses a larger one before it writes anything); the file
 * is not.
 */
public final class Checkpoint {

    /** The version this class writes and reads (version 1 was a container of its own). */
    public static final int FORMAT_VERSION = 2;

    /** The value of the {@code format} metadata entry. */
    public static final String FORMAT = "fishleg4j-checkpoint";

    static final String METADATA = "__metadata__";
    private static final String STATE = "state.";
    private static final String USER = "user.";
    private static final String CRC_PLACEHOLDER = "00000000";
    /** The first bytes of a version 1 file. */
    static final byte[] OLD_MAGIC = "FLG4JCKP".getBytes(StandardCharsets.US_ASCII);
    static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    /** Bytes moved between a tensor and the file at a time. */
    static final int CHUNK = 1 << 16;
    /** The buffer of the file streams. */
    static final int BUFFER = 1 << 20;
    /** The longest header a safetensors reader accepts (100 MB, the reference's limit). */
    static final long MAX_HEADER = 100_000_000L;
    /** The largest tensor DJL hands over as one buffer (its {@code toByteBuffer}, {@code create}). */
    private static final long MAX_TENSOR = Integer.MAX_VALUE;

    private Checkpoint() {}

    /**
     * Writes a state, atomically.
     *
     * @param state what to save
     * @param file the checkpoint file (replaced if it exists)
     * @param metadata the caller's own entries (e.g. a data loader's position); may be empty
     * @throws IOException if writing fails (the previous file, if any, is then left intact)
     * @throws IllegalArgumentException if a tensor has a type the format does not carry here
     */
    public static void save(CheckpointState state, Path file, Map<String, String> metadata)
            throws IOException {
        List<CheckpointState.Entry> entries = state.tensors();
        JsonObject header = new JsonObject();
        JsonObject md = new JsonObject();
        md.addProperty("crc32", CRC_PLACEHOLDER); // first, so that it is found and patched below
        md.addProperty("format", FORMAT);
        md.addProperty("formatVersion", Integer.toString(FORMAT_VERSION));
        state.metadata().forEach((k, v) -> md.addProperty(STATE + k, v));
        if (metadata != null) {
            metadata.forEach((k, v) -> md.addProperty(USER + k, v));
        }
        header.add(METADATA, md);
        long offset = 0;
        for (CheckpointState.Entry e : entries) {
            NDArray a = e.array();
            long bytes = a.size() * a.getDataType().getNumOfBytes();
            if (bytes > MAX_TENSOR) {
                throw new IllegalArgumentException("cannot checkpoint tensor " + e.name() + " of "
                        + bytes + " bytes: DJL moves a tensor's data through one Java buffer, so a"
                        + " tensor is limited to " + MAX_TENSOR + " bytes (the file is not)");
            }
            JsonObject t = new JsonObject();
            t.addProperty("dtype", CheckpointHeader.dtypeName(a.getDataType(), e.name()));
            t.add("shape", GSON.toJsonTree(a.getShape().getShape()));
            JsonArray offsets = new JsonArray();
            offsets.add(offset);
            offsets.add(offset + bytes);
            t.add("data_offsets", offsets);
            if (header.has(e.name())) {
                throw new IllegalArgumentException("two tensors of the state are named " + e.name());
            }
            header.add(e.name(), t);
            offset += bytes;
        }
        byte[] json = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);
        // pad with spaces so that the data starts at a multiple of 8 (8 + H ≡ 0 mod 8)
        byte[] padded = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        int crcAt = indexOf(padded, ("\"crc32\":\"" + CRC_PLACEHOLDER + "\"")
                .getBytes(StandardCharsets.US_ASCII)) + "\"crc32\":\"".length();

        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, target.getFileName().toString() + ".", ".partial");
        boolean done = false;
        try {
            CRC32 crc = new CRC32();
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), BUFFER);
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(padded.length).array());
                out.write(padded);
                byte[] chunk = new byte[CHUNK];
                for (CheckpointState.Entry e : entries) {
                    writeTensor(e.array(), out, crc, chunk);
                }
                out.flush();
                byte[] sum = String.format(Locale.ROOT, "%08x", crc.getValue())
                        .getBytes(StandardCharsets.US_ASCII);
                channel.write(ByteBuffer.wrap(sum), 8L + crcAt);
                channel.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /**
     * Restores a state written by {@link #save} into a state of the same structure (same tensor
     * names, shapes and types).
     *
     * @param state where to restore
     * @param file the checkpoint
     * @return the caller's metadata stored with the checkpoint
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is not a FishLeg4J checkpoint of this version,
     *     is corrupt or truncated, or does not match the state (the message lists every
     *     mismatch); nothing has been changed then
     */
    public static Map<String, String> load(CheckpointState state, Path file) throws IOException {
        String what = "checkpoint " + file;
        try (FileChannel channel = open(file)) {
            CheckpointHeader.Parsed parsed = CheckpointHeader.parse(channel, what);
            Map<String, String> md = parsed.metadata();

            List<CheckpointState.Entry> entries = state.tensors();
            Map<String, CheckpointState.Entry> byName = new LinkedHashMap<>();
            entries.forEach(e -> byName.put(e.name(), e));
            List<String> problems = new ArrayList<>();
            for (CheckpointState.Entry e : entries) {
                CheckpointHeader.TensorInfo t = parsed.tensors().get(e.name());
                if (t == null) {
                    problems.add(e.name() + ": missing from the checkpoint (optimizer has "
                            + e.array().getShape() + " " + e.array().getDataType().name() + ")");
                } else if (!t.shape().equals(e.array().getShape())
                        || t.dataType() != e.array().getDataType()) {
                    problems.add(e.name() + ": checkpoint has " + t.shape() + " "
                            + t.dataType().name() + ", this optimizer has " + e.array().getShape()
                            + " " + e.array().getDataType().name());
                }
            }
            for (String name : parsed.tensors().keySet()) {
                if (!byName.containsKey(name)) {
                    problems.add(name + ": in the checkpoint but not in this optimizer/model");
                }
            }
            if (!problems.isEmpty()) {
                throw new IllegalArgumentException(
                        what + " does not match this optimizer and model:\n  "
                                + String.join("\n  ", problems));
            }
            Map<String, String> saved = new LinkedHashMap<>();
            Map<String, String> user = new LinkedHashMap<>();
            md.forEach((k, v) -> {
                if (k.startsWith(STATE)) {
                    saved.put(k.substring(STATE.length()), v);
                } else if (k.startsWith(USER)) {
                    user.put(k.substring(USER.length()), v);
                }
            });
            Runnable restoreScalars;
            try {
                restoreScalars = state.restorer(saved);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(what + " cannot be restored: " + e.getMessage(), e);
            }

            // Everything is consistent: a second pass over the data restores the tensors, in the
            // order of the file (they tile it, checked above).
            channel.position(parsed.dataStart());
            InputStream in = new BufferedInputStream(Channels.newInputStream(channel), BUFFER);
            byte[] chunk = new byte[CHUNK];
            for (Map.Entry<String, CheckpointHeader.TensorInfo> t
                    : CheckpointHeader.inFileOrder(parsed.tensors())) {
                CheckpointState.Entry e = byName.get(t.getKey());
                try (NDArray value = readTensor(in, chunk, e.array(), what)) {
                    e.restore().accept(value);
                }
            }
            restoreScalars.run();
            return user;
        }
    }

    /**
     * The caller's entries of a checkpoint (what {@link #load} hands back), without restoring
     * anything: to check what a checkpoint is for (its task, its run) before loading it.
     *
     * @param file the checkpoint file
     * @return the entries stored with {@link #save}
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it does not exist or is not a FishLeg4J checkpoint of
     *     this version
     */
    public static Map<String, String> readMetadata(Path file) throws IOException {
        Map<String, String> user = new LinkedHashMap<>();
        try (FileChannel channel = open(file)) {
            CheckpointHeader.parse(channel, "checkpoint " + file).metadata().forEach((k, v) -> {
                if (k.startsWith(USER)) {
                    user.put(k.substring(USER.length()), v);
                }
            });
        }
        return user;
    }

    private static FileChannel open(Path file) throws IOException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("checkpoint file " + file + " does not exist", e);
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new IllegalStateException("checksum field not found in the header");
    }

    /**
     * Writes an array's elements, raw little-endian, a chunk at a time (no array of the whole
     * tensor's bytes).
     */
    private static void writeTensor(NDArray a, OutputStream out, CRC32 crc, byte[] chunk)
            throws IOException {
        ByteBuffer b = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
        switch (a.getDataType()) {
            case FLOAT32 -> {
                float[] v = a.toFloatArray();
                writeChunks(v.length, 4, chunk, (at, n) -> b.asFloatBuffer().put(v, at, n), out, crc);
            }
            case FLOAT64 -> {
                double[] v = a.toDoubleArray();
                writeChunks(v.length, 8, chunk, (at, n) -> b.asDoubleBuffer().put(v, at, n), out, crc);
            }
            case INT32 -> {
                int[] v = a.toIntArray();
                writeChunks(v.length, 4, chunk, (at, n) -> b.asIntBuffer().put(v, at, n), out, crc);
            }
            case INT64 -> {
                long[] v = a.toLongArray();
                writeChunks(v.length, 8, chunk, (at, n) -> b.asLongBuffer().put(v, at, n), out, crc);
            }
            default -> throw new IllegalArgumentException("unsupported type " + a.getDataType());
        }
    }

    /** Moves elements at..at+n−1 between an array and the chunk's buffer. */
    private interface Elements {
        void move(int at, int n);
    }

    private static void writeChunks(int length, int width, byte[] chunk, Elements fill,
            OutputStream out, CRC32 crc) throws IOException {
        int per = chunk.length / width;
        for (int at = 0; at < length; at += per) {
            int n = Math.min(per, length - at);
            fill.move(at, n);
            crc.update(chunk, 0, n * width);
            out.write(chunk, 0, n * width);
        }
    }

    /**
     * Reads one tensor shaped like {@code like} from the stream (raw little-endian), a chunk at a
     * time, into a new array in {@code like}'s manager.
     */
    private static NDArray readTensor(InputStream in, byte[] chunk, NDArray like, String what)
            throws IOException {
        ByteBuffer b = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
        Shape shape = like.getShape();
        int n = Math.toIntExact(like.size());
        NDManager m = like.getManager();
        switch (like.getDataType()) {
            case FLOAT32 -> {
                float[] v = new float[n];
                readChunks(in, n, 4, chunk, (at, k) -> b.asFloatBuffer().get(v, at, k), what);
                return m.create(v, shape);
            }
            case FLOAT64 -> {
                double[] v = new double[n];
                readChunks(in, n, 8, chunk, (at, k) -> b.asDoubleBuffer().get(v, at, k), what);
                return m.create(v, shape);
            }
            case INT32 -> {
                int[] v = new int[n];
                readChunks(in, n, 4, chunk, (at, k) -> b.asIntBuffer().get(v, at, k), what);
                return m.create(v, shape);
            }
            case INT64 -> {
                long[] v = new long[n];
                readChunks(in, n, 8, chunk, (at, k) -> b.asLongBuffer().get(v, at, k), what);
                return m.create(v, shape);
            }
            default -> throw new IllegalArgumentException("unsupported type " + like.getDataType());
        }
    }

    private static void readChunks(InputStream in, int length, int width, byte[] chunk,
            Elements take, String what) throws IOException {
        int per = chunk.length / width;
        for (int at = 0; at < length; at += per) {
            int n = Math.min(per, length - at);
            CheckpointHeader.readFully(in, chunk, 0, n * width, what);
            take.move(at, n);
        }
    }
}
