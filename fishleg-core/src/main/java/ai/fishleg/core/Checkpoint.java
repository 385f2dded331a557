package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedOutputStream;
import java.io.IOException;
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
import java.util.Comparator;
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
 * (the CRC-32 of the data, 8 hex digits), the state's own entries under {@code state.} and the
 * caller's under {@code user.}. DJL's own safetensors encoder ({@code NDList.Encoding.SAFETENSORS})
 * is not used: it writes no {@code __metadata__}, and its decoder drops it, while the scalar state
 * and the checksum live there.
 *
 * <p>A save is atomic: the file is written beside the target, flushed to disk, then moved over the
 * target in one step, so an interrupted save never leaves a half-written file in place of a good
 * one. A load checks everything (the header, the format and its version, the length, the
 * checksum, that every tensor name, shape and type matches the state, and the saved scalar state)
 * before it changes anything, and its error says exactly what is wrong.
 */
public final class Checkpoint {

    /** The version this class writes and reads (version 1 was a container of its own). */
    public static final int FORMAT_VERSION = 2;

    /** The value of the {@code format} metadata entry. */
    public static final String FORMAT = "fishleg4j-checkpoint";

    private static final String METADATA = "__metadata__";
    private static final String STATE = "state.";
    private static final String USER = "user.";
    private static final String CRC_PLACEHOLDER = "00000000";
    /** The first bytes of a version 1 file. */
    private static final byte[] OLD_MAGIC = "FLG4JCKP".getBytes(StandardCharsets.US_ASCII);
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

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
            JsonObject t = new JsonObject();
            t.addProperty("dtype", dtypeName(a.getDataType(), e.name()));
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
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20);
                out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(padded.length).array());
                out.write(padded);
                for (CheckpointState.Entry e : entries) {
                    byte[] data = toLittleEndian(e.array());
                    crc.update(data);
                    out.write(data);
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
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("checkpoint file " + file + " does not exist", e);
        }
        String what = "checkpoint " + file;
        Parsed parsed = parse(bytes, what);
        Map<String, String> md = parsed.metadata();

        List<CheckpointState.Entry> entries = state.tensors();
        List<String> problems = new ArrayList<>();
        for (CheckpointState.Entry e : entries) {
            TensorInfo t = parsed.tensors().get(e.name());
            if (t == null) {
                problems.add(e.name() + ": missing from the checkpoint (optimizer has "
                        + e.array().getShape() + " " + e.array().getDataType().name() + ")");
            } else if (!t.shape().equals(e.array().getShape())
                    || t.dataType() != e.array().getDataType()) {
                problems.add(e.name() + ": checkpoint has " + t.shape() + " " + t.dataType().name()
                        + ", this optimizer has " + e.array().getShape() + " "
                        + e.array().getDataType().name());
            }
        }
        for (String name : parsed.tensors().keySet()) {
            if (entries.stream().noneMatch(e -> e.name().equals(name))) {
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

        // Everything is consistent: restore.
        for (CheckpointState.Entry e : entries) {
            TensorInfo t = parsed.tensors().get(e.name());
            try (NDArray value = fromLittleEndian(bytes, parsed.dataStart() + t.begin(), e.array())) {
                e.restore().accept(value);
            }
        }
        restoreScalars.run();
        return user;
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
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("checkpoint file " + file + " does not exist", e);
        }
        Map<String, String> user = new LinkedHashMap<>();
        parse(bytes, "checkpoint " + file).metadata().forEach((k, v) -> {
            if (k.startsWith(USER)) {
                user.put(k.substring(USER.length()), v);
            }
        });
        return user;
    }

    /** One tensor of a file: type, shape and its byte range in the data. */
    private record TensorInfo(DataType dataType, Shape shape, long begin, long end) {}

    /** A validated file: its metadata, tensors and where the data starts. */
    private record Parsed(Map<String, String> metadata, Map<String, TensorInfo> tensors,
            int dataStart) {}

    /** Checks the container, the format, the version and the checksum. */
    private static Parsed parse(byte[] bytes, String what) {
        if (bytes.length >= OLD_MAGIC.length
                && Arrays.equals(Arrays.copyOf(bytes, OLD_MAGIC.length), OLD_MAGIC)) {
            throw new IllegalArgumentException(what + " has format version 1 (FishLeg4J's own"
                    + " container) but this FishLeg4J reads version " + FORMAT_VERSION
                    + " (safetensors); save it again with the version that wrote it");
        }
        if (bytes.length < 9 || bytes[8] != '{') {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (a safetensors"
                    + " file starts with an 8-byte header length and a JSON header)");
        }
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 0 || headerLength > bytes.length - 8L) {
            throw new IllegalArgumentException(
                    what + " is truncated: its header needs " + Long.toUnsignedString(headerLength)
                            + " bytes but the file has " + bytes.length + " bytes in all");
        }
        int dataStart = 8 + (int) headerLength;
        JsonObject header;
        try {
            header = JsonParser.parseString(new String(bytes, 8, (int) headerLength,
                    StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (its header"
                    + " is not a safetensors JSON header: " + e.getMessage() + ")", e);
        }
        Map<String, String> md = new LinkedHashMap<>();
        try {
            JsonObject m = header.getAsJsonObject(METADATA);
            if (m != null) {
                m.entrySet().forEach(e -> md.put(e.getKey(), e.getValue().getAsString()));
            }
        } catch (ClassCastException | IllegalStateException | UnsupportedOperationException e) {
            throw new IllegalArgumentException(
                    what + " has malformed __metadata__ (it must map strings to strings)", e);
        }
        if (!FORMAT.equals(md.get("format"))) {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (a"
                    + " safetensors file without the metadata entry format = " + FORMAT + ")");
        }
        if (!Integer.toString(FORMAT_VERSION).equals(md.get("formatVersion"))) {
            throw new IllegalArgumentException(what + " has format version "
                    + md.get("formatVersion") + " but this FishLeg4J reads version "
                    + FORMAT_VERSION);
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : header.entrySet()) {
            if (!e.getKey().equals(METADATA)) {
                tensors.put(e.getKey(), tensorInfo(e.getKey(), e.getValue(), what));
            }
        }
        // The tensors must tile the data exactly (as safetensors readers require).
        long dataLength = bytes.length - (long) dataStart;
        long end = 0;
        for (TensorInfo t : tensors.values().stream()
                .sorted(Comparator.comparingLong(TensorInfo::begin)).toList()) {
            if (t.begin() != end) {
                throw new IllegalArgumentException(what + " has a malformed header: its tensors"
                        + " do not tile the data (a gap or an overlap at data byte " + end + ")");
            }
            end = t.end();
        }
        if (end != dataLength) {
            throw new IllegalArgumentException(what + " is truncated or has trailing bytes: its"
                    + " tensors hold " + end + " bytes of data, the file has " + dataLength);
        }
        CRC32 crc = new CRC32();
        crc.update(bytes, dataStart, bytes.length - dataStart);
        String sum = String.format(Locale.ROOT, "%08x", crc.getValue());
        if (!sum.equals(md.get("crc32"))) {
            throw new IllegalArgumentException(what + " is corrupt: the CRC-32 checksum of its data ("
                    + sum + ") does not match the one it was saved with (" + md.get("crc32") + ")");
        }
        return new Parsed(md, tensors, dataStart);
    }

    private static TensorInfo tensorInfo(String name, JsonElement json, String what) {
        try {
            JsonObject o = json.getAsJsonObject();
            DataType type = dataType(o.get("dtype").getAsString());
            Shape shape = new Shape(GSON.fromJson(o.get("shape"), long[].class));
            long[] offsets = GSON.fromJson(o.get("data_offsets"), long[].class);
            long bytes = shape.size() * type.getNumOfBytes();
            if (offsets.length != 2 || offsets[0] < 0 || offsets[1] - offsets[0] != bytes) {
                throw new IllegalArgumentException("data_offsets do not fit " + bytes + " bytes");
            }
            return new TensorInfo(type, shape, offsets[0], offsets[1]);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(what + " has a malformed entry for tensor " + name
                    + ": " + e.getMessage(), e);
        }
    }

    /** The safetensors name of a type this format carries. */
    private static String dtypeName(DataType type, String tensor) {
        return switch (type) {
            case FLOAT32 -> "F32";
            case FLOAT64 -> "F64";
            case INT32 -> "I32";
            case INT64 -> "I64";
            default -> throw new IllegalArgumentException(
                    "cannot checkpoint a tensor of type " + type.name() + " (" + tensor
                            + "); supported: FLOAT32, FLOAT64, INT32, INT64");
        };
    }

    private static DataType dataType(String name) {
        return switch (name) {
            case "F32" -> DataType.FLOAT32;
            case "F64" -> DataType.FLOAT64;
            case "I32" -> DataType.INT32;
            case "I64" -> DataType.INT64;
            default -> throw new IllegalArgumentException(
                    "dtype " + name + " is not one of F32, F64, I32, I64");
        };
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

    private static byte[] toLittleEndian(NDArray a) {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(a.size() * a.getDataType().getNumOfBytes()))
                .order(ByteOrder.LITTLE_ENDIAN);
        switch (a.getDataType()) {
            case FLOAT32 -> b.asFloatBuffer().put(a.toFloatArray());
            case FLOAT64 -> b.asDoubleBuffer().put(a.toDoubleArray());
            case INT32 -> b.asIntBuffer().put(a.toIntArray());
            case INT64 -> b.asLongBuffer().put(a.toLongArray());
            default -> throw new IllegalArgumentException("unsupported type " + a.getDataType());
        }
        return b.array();
    }

    /** A new array shaped like {@code like}, in its manager, from raw little-endian bytes. */
    private static NDArray fromLittleEndian(byte[] bytes, long offset, NDArray like) {
        int length = Math.toIntExact(like.size() * like.getDataType().getNumOfBytes());
        ByteBuffer b = ByteBuffer.wrap(bytes, Math.toIntExact(offset), length).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
        Shape shape = like.getShape();
        int n = Math.toIntExact(like.size());
        NDManager m = like.getManager();
        switch (like.getDataType()) {
            case FLOAT32 -> {
                float[] v = new float[n];
                b.asFloatBuffer().get(v);
                return m.create(v, shape);
            }
            case FLOAT64 -> {
                double[] v = new double[n];
                b.asDoubleBuffer().get(v);
                return m.create(v, shape);
            }
            case INT32 -> {
                int[] v = new int[n];
                b.asIntBuffer().get(v);
                return m.create(v, shape);
            }
            case INT64 -> {
                long[] v = new long[n];
                b.asLongBuffer().get(v);
                return m.create(v, shape);
            }
            default -> throw new IllegalArgumentException("unsupported type " + like.getDataType());
        }
    }
}
