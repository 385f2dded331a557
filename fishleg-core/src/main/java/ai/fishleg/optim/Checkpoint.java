package ai.fishleg.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Tensors;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
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
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.CRC32;

/**
 * Saving and restoring the complete state of a {@link FishLeg} run: the model's parameters (all of
 * them, running statistics included), λ, momentum buffers, stored gradients u, θ0, the auxiliary
 * Adam's moments and step counts, the step and schedule counters, and the state of every random
 * generator FishLeg can reach (its own, the auxiliary source's, the draw's / likelihood's).
 *
 * <h2>File format, version {@value #FORMAT_VERSION}</h2>
 *
 * <pre>
 *   bytes 0..7     ASCII "FLG4JCKP"
 *   bytes 8..11    format version, int32 big-endian
 *   bytes 12..15   header length H, int32 big-endian
 *   next H bytes   header: UTF-8 JSON (see below)
 *   then           every tensor of the header's "tensors" list, in that order, raw little-endian
 *   last 8 bytes   CRC-32 of every preceding byte, as int64 big-endian
 * </pre>
 *
 * The header holds {@code formatVersion}, {@code hyperparameters}, {@code counters} (step count,
 * auxiliary updates, skips, clip count, last aux loss, current fishLr), {@code rng} (generator name
 * to state, as decimal strings), {@code adamSteps} (aux tensor name to its Adam step count), the
 * caller's {@code metadata} (string to string) and {@code tensors}: a list of {name, dtype, shape}.
 * Tensor names: {@code model/<DJL parameter name>}, {@code aux/<layer>/<name>}, {@code
 * momentum/<layer>/<param>}, {@code u/<layer>/<param>}, {@code theta0/<layer>/<param>}, {@code
 * param/likelihood/<param>} and {@code adam/<layer>/<name>/m|v}; the root layer is called {@code
 * <root>}.
 *
 * <p>A save is atomic: the file is written beside the target, flushed to disk, then moved over the
 * target in one step, so an interrupted save never leaves a half-written file in place of a good
 * one. A load checks everything (magic, version, length, checksum, and that every tensor name,
 * shape and type matches this optimizer and model) before it changes anything, and its error says
 * exactly what does not match.
 */
public final class Checkpoint {

    /** The version this class writes and reads. */
    public static final int FORMAT_VERSION = 1;

    private static final byte[] MAGIC = "FLG4JCKP".getBytes(StandardCharsets.US_ASCII);
    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().create();

    private Checkpoint() {}

    /**
     * One named tensor of the state: the live array it is read from, and how a saved value is
     * written back (λ goes through its block's state, which drops the cached products).
     */
    record Entry(String name, NDArray array, Consumer<NDArray> restore) {
        /** An entry restored by copying into the live array. */
        Entry(String name, NDArray array) {
            this(name, array, value -> Tensors.assign(array, value));
        }
    }

    /**
     * Writes the state of an optimizer and its model, atomically.
     *
     * @param opt the optimizer
     * @param file the checkpoint file (replaced if it exists)
     * @param metadata the caller's own entries (e.g. a data loader's position); may be empty
     * @throws IOException if writing fails (the previous file, if any, is then left intact)
     */
    public static void save(FishLeg opt, Path file, Map<String, String> metadata) throws IOException {
        List<Entry> entries = opt.checkpointEntries();
        JsonObject header = new JsonObject();
        header.addProperty("library", "fishleg4j");
        header.addProperty("formatVersion", FORMAT_VERSION);
        header.add("hyperparameters", GSON.toJsonTree(opt.getHyperparameters()));
        header.add("counters", GSON.toJsonTree(opt.counters()));
        JsonObject rng = new JsonObject();
        opt.rngStates().forEach((k, v) -> rng.addProperty(k, Long.toString(v)));
        header.add("rng", rng);
        header.add("adamSteps", GSON.toJsonTree(opt.adamSteps()));
        header.add("metadata", GSON.toJsonTree(metadata == null ? Map.of() : metadata));
        JsonArray tensors = new JsonArray();
        for (Entry e : entries) {
            JsonObject t = new JsonObject();
            t.addProperty("name", e.name());
            t.addProperty("dtype", e.array().getDataType().name());
            t.add("shape", GSON.toJsonTree(e.array().getShape().getShape()));
            tensors.add(t);
        }
        header.add("tensors", tensors);
        byte[] headerBytes = GSON.toJson(header).getBytes(StandardCharsets.UTF_8);

        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, target.getFileName().toString() + ".", ".partial");
        boolean done = false;
        try {
            CRC32 crc = new CRC32();
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
                    OutputStream out = new java.io.BufferedOutputStream(
                            java.nio.channels.Channels.newOutputStream(channel), 1 << 20)) {
                DataOutputStream data = new DataOutputStream(new CrcOutputStream(out, crc));
                data.write(MAGIC);
                data.writeInt(FORMAT_VERSION);
                data.writeInt(headerBytes.length);
                data.write(headerBytes);
                for (Entry e : entries) {
                    data.write(toLittleEndian(e.array()));
                }
                data.flush();
                new DataOutputStream(out).writeLong(crc.getValue());
                out.flush();
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
     * Restores a state written by {@link #save} into an optimizer built for the same model (same
     * layers and shapes). Hyperparameters are taken from the optimizer, not the file (a resumed
     * run may change them); differences are logged.
     *
     * @param opt the optimizer to restore into
     * @param file the checkpoint
     * @return the metadata stored with the checkpoint
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if the file is not a valid checkpoint of this version, is
     *     corrupt or truncated, or does not match the optimizer and model (the message lists every
     *     mismatch); nothing has been changed then
     */
    public static Map<String, String> load(FishLeg opt, Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("checkpoint file " + file + " does not exist", e);
        }
        String what = "checkpoint " + file;
        if (bytes.length < MAGIC.length + 16
                || !Arrays.equals(Arrays.copyOf(bytes, MAGIC.length), MAGIC)) {
            throw new IllegalArgumentException(
                    what + " is not a FishLeg4J checkpoint (it does not start with \"FLG4JCKP\")");
        }
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        buf.position(MAGIC.length);
        int version = buf.getInt();
        if (version != FORMAT_VERSION) {
            throw new IllegalArgumentException(
                    what + " has format version " + version + " but this FishLeg4J reads version "
                            + FORMAT_VERSION);
        }
        int headerLength = buf.getInt();
        if (headerLength < 0 || 16L + headerLength + 8 > bytes.length) {
            throw new IllegalArgumentException(
                    what + " is truncated: its header needs " + headerLength + " bytes but the file"
                            + " has " + bytes.length + " bytes in all");
        }
        JsonObject header;
        try {
            header = JsonParser.parseString(new String(bytes, 16, headerLength,
                    StandardCharsets.UTF_8)).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(what + " has an unreadable header: " + e.getMessage(), e);
        }
        List<Entry> entries = opt.checkpointEntries();
        Map<String, JsonObject> inFile = new LinkedHashMap<>();
        long dataBytes = 0;
        for (JsonElement t : header.getAsJsonArray("tensors")) {
            JsonObject o = t.getAsJsonObject();
            inFile.put(o.get("name").getAsString(), o);
            dataBytes += tensorBytes(o);
        }
        long expectedLength = 16L + headerLength + dataBytes + 8;
        if (bytes.length != expectedLength) {
            throw new IllegalArgumentException(
                    what + " is truncated or has trailing bytes: expected " + expectedLength
                            + " bytes, the file has " + bytes.length);
        }
        CRC32 crc = new CRC32();
        crc.update(bytes, 0, bytes.length - 8);
        long stored = ByteBuffer.wrap(bytes, bytes.length - 8, 8).getLong();
        if (stored != crc.getValue()) {
            throw new IllegalArgumentException(
                    what + " is corrupt: its CRC-32 checksum does not match its contents");
        }
        List<String> problems = new ArrayList<>();
        for (Entry e : entries) {
            JsonObject t = inFile.get(e.name());
            if (t == null) {
                problems.add(e.name() + ": missing from the checkpoint (optimizer has "
                        + e.array().getShape() + " " + e.array().getDataType().name() + ")");
                continue;
            }
            Shape shape = new Shape(GSON.fromJson(t.get("shape"), long[].class));
            String dtype = t.get("dtype").getAsString();
            if (!shape.equals(e.array().getShape()) || !dtype.equals(e.array().getDataType().name())) {
                problems.add(e.name() + ": checkpoint has " + shape + " " + dtype
                        + ", this optimizer has " + e.array().getShape() + " "
                        + e.array().getDataType().name());
            }
        }
        for (String name : inFile.keySet()) {
            if (entries.stream().noneMatch(e -> e.name().equals(name))) {
                problems.add(name + ": in the checkpoint but not in this optimizer/model");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(
                    what + " does not match this optimizer and model:\n  "
                            + String.join("\n  ", problems));
        }

        // Everything is consistent: restore.
        Map<String, Entry> byName = new LinkedHashMap<>();
        for (Entry e : entries) {
            byName.put(e.name(), e);
        }
        int offset = 16 + headerLength;
        try (NDManager scratch = opt.getManager().newSubManager()) {
            for (Map.Entry<String, JsonObject> t : inFile.entrySet()) {
                Entry target = byName.get(t.getKey());
                int n = (int) tensorBytes(t.getValue());
                NDArray value = fromLittleEndian(scratch, bytes, offset, n, target.array());
                target.restore().accept(value);
                offset += n;
            }
        }
        Map<String, Long> rng = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : header.getAsJsonObject("rng").entrySet()) {
            rng.put(e.getKey(), Long.parseLong(e.getValue().getAsString()));
        }
        Map<String, Long> adamSteps = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : header.getAsJsonObject("adamSteps").entrySet()) {
            adamSteps.put(e.getKey(), e.getValue().getAsLong());
        }
        FishLeg.Counters counters = GSON.fromJson(header.get("counters"), FishLeg.Counters.class);
        Hyperparameters saved = GSON.fromJson(header.get("hyperparameters"), Hyperparameters.class);
        opt.restore(counters, rng, adamSteps, saved);
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonObject md = header.getAsJsonObject("metadata");
        if (md != null) {
            md.entrySet().forEach(e -> metadata.put(e.getKey(), e.getValue().getAsString()));
        }
        return metadata;
    }

    private static long tensorBytes(JsonObject t) {
        long[] shape = GSON.fromJson(t.get("shape"), long[].class);
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n * DataType.valueOf(t.get("dtype").getAsString()).getNumOfBytes();
    }

    private static byte[] toLittleEndian(NDArray a) {
        ByteBuffer b = ByteBuffer.allocate((int) (a.size() * a.getDataType().getNumOfBytes()))
                .order(ByteOrder.LITTLE_ENDIAN);
        switch (a.getDataType()) {
            case FLOAT32 -> b.asFloatBuffer().put(a.toFloatArray());
            case FLOAT64 -> b.asDoubleBuffer().put(a.toDoubleArray());
            case INT32 -> b.asIntBuffer().put(a.toIntArray());
            case INT64 -> b.asLongBuffer().put(a.toLongArray());
            default -> throw new IllegalArgumentException(
                    "cannot checkpoint a tensor of type " + a.getDataType().name() + " ("
                            + a.getName() + "); supported: FLOAT32, FLOAT64, INT32, INT64");
        }
        return b.array();
    }

    private static NDArray fromLittleEndian(
            NDManager m, byte[] bytes, int offset, int length, NDArray like) {
        ByteBuffer b = ByteBuffer.wrap(bytes, offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        Shape shape = like.getShape();
        int n = (int) like.size();
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

    /** Passes bytes through while updating a checksum. */
    private static final class CrcOutputStream extends java.io.FilterOutputStream {
        private final CRC32 crc;

        CrcOutputStream(OutputStream out, CRC32 crc) {
            super(out);
            this.crc = crc;
        }

        @Override
        public void write(int b) throws IOException {
            crc.update(b);
            out.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            crc.update(b, off, len);
            out.write(b, off, len);
        }
    }
}
