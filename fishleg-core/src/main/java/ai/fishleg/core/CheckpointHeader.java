package ai.fishleg.core;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Reading and checking a {@link Checkpoint} file's safetensors header: the container, the format and
 * its version, the tensors' types, shapes and byte ranges, and the data's checksum, streamed once.
 */
final class CheckpointHeader {

    private CheckpointHeader() {}

    /** One tensor of a file: type, shape and its byte range in the data. */
    record TensorInfo(DataType dataType, Shape shape, long begin, long end) {}

    /** A validated file: its metadata, tensors and where the data starts. */
    record Parsed(Map<String, String> metadata, Map<String, TensorInfo> tensors,
            long dataStart) {}

    /**
     * Reads the header from the start of the file and checks the container, the format, the
     * version, the layout of the data and its checksum (streaming the data once).
     */
    static Parsed parse(FileChannel channel, String what) throws IOException {
        long size = channel.size();
        channel.position(0);
        InputStream in = new BufferedInputStream(Channels.newInputStream(channel), Checkpoint.BUFFER);
        byte[] start = in.readNBytes(9);
        if (start.length >= Checkpoint.OLD_MAGIC.length
                && Arrays.equals(Arrays.copyOf(start, Checkpoint.OLD_MAGIC.length), Checkpoint.OLD_MAGIC)) {
            throw new IllegalArgumentException(what + " has format version 1 (FishLeg4J's own"
                    + " container) but this FishLeg4J reads version " + Checkpoint.FORMAT_VERSION
                    + " (safetensors); save it again with the version that wrote it");
        }
        if (start.length < 9 || start[8] != '{') {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (a safetensors"
                    + " file starts with an 8-byte header length and a JSON header)");
        }
        long headerLength = ByteBuffer.wrap(start, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLength < 0 || headerLength > size - 8L) {
            throw new IllegalArgumentException(
                    what + " is truncated: its header needs " + Long.toUnsignedString(headerLength)
                            + " bytes but the file has " + size + " bytes in all");
        }
        if (headerLength > Checkpoint.MAX_HEADER) {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (its header"
                    + " length " + headerLength + " exceeds safetensors' limit of " + Checkpoint.MAX_HEADER
                    + " bytes)");
        }
        byte[] json = new byte[(int) headerLength];
        json[0] = start[8];
        readFully(in, json, 1, json.length - 1, what);
        long dataStart = 8 + headerLength;
        JsonObject header;
        try {
            header = JsonParser.parseString(new String(json, StandardCharsets.UTF_8))
                    .getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (its header"
                    + " is not a safetensors JSON header: " + e.getMessage() + ")", e);
        }
        Map<String, String> md = new LinkedHashMap<>();
        try {
            JsonObject m = header.getAsJsonObject(Checkpoint.METADATA);
            if (m != null) {
                m.entrySet().forEach(e -> md.put(e.getKey(), e.getValue().getAsString()));
            }
        } catch (ClassCastException | IllegalStateException | UnsupportedOperationException e) {
            throw new IllegalArgumentException(
                    what + " has malformed __metadata__ (it must map strings to strings)", e);
        }
        if (!Checkpoint.FORMAT.equals(md.get("format"))) {
            throw new IllegalArgumentException(what + " is not a FishLeg4J checkpoint (a"
                    + " safetensors file without the metadata entry format = " + Checkpoint.FORMAT + ")");
        }
        if (!Integer.toString(Checkpoint.FORMAT_VERSION).equals(md.get("formatVersion"))) {
            throw new IllegalArgumentException(what + " has format version "
                    + md.get("formatVersion") + " but this FishLeg4J reads version "
                    + Checkpoint.FORMAT_VERSION);
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : header.entrySet()) {
            if (!e.getKey().equals(Checkpoint.METADATA)) {
                tensors.put(e.getKey(), tensorInfo(e.getKey(), e.getValue(), what));
            }
        }
        // The tensors must tile the data exactly (as safetensors readers require).
        long dataLength = size - dataStart;
        long end = 0;
        for (Map.Entry<String, TensorInfo> t : inFileOrder(tensors)) {
            if (t.getValue().begin() != end) {
                throw new IllegalArgumentException(what + " has a malformed header: its tensors"
                        + " do not tile the data (a gap or an overlap at data byte " + end + ")");
            }
            end = t.getValue().end();
        }
        if (end != dataLength) {
            throw new IllegalArgumentException(what + " is truncated or has trailing bytes: its"
                    + " tensors hold " + end + " bytes of data, the file has " + dataLength);
        }
        CRC32 crc = new CRC32();
        byte[] chunk = new byte[Checkpoint.CHUNK];
        for (long left = dataLength; left > 0; ) {
            int n = (int) Math.min(left, chunk.length);
            readFully(in, chunk, 0, n, what);
            crc.update(chunk, 0, n);
            left -= n;
        }
        String sum = String.format(Locale.ROOT, "%08x", crc.getValue());
        if (!sum.equals(md.get("crc32"))) {
            throw new IllegalArgumentException(what + " is corrupt: the CRC-32 checksum of its data ("
                    + sum + ") does not match the one it was saved with (" + md.get("crc32") + ")");
        }
        return new Parsed(md, tensors, dataStart);
    }

    /** The tensors of a file in the order of their data. */
    static List<Map.Entry<String, TensorInfo>> inFileOrder(Map<String, TensorInfo> tensors) {
        return tensors.entrySet().stream()
                .sorted(Comparator.comparingLong(e -> e.getValue().begin())).toList();
    }

    /** Reads exactly {@code n} bytes, or says that the file ended early. */
    static void readFully(InputStream in, byte[] into, int at, int n, String what)
            throws IOException {
        if (in.readNBytes(into, at, n) != n) {
            throw new IllegalArgumentException(what + " is truncated (it ended while being read)");
        }
    }

    static TensorInfo tensorInfo(String name, JsonElement json, String what) {
        try {
            JsonObject o = json.getAsJsonObject();
            DataType type = dataType(o.get("dtype").getAsString());
            Shape shape = new Shape(Checkpoint.GSON.fromJson(o.get("shape"), long[].class));
            long[] offsets = Checkpoint.GSON.fromJson(o.get("data_offsets"), long[].class);
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
    static String dtypeName(DataType type, String tensor) {
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

    static DataType dataType(String name) {
        return switch (name) {
            case "F32" -> DataType.FLOAT32;
            case "F64" -> DataType.FLOAT64;
            case "I32" -> DataType.INT32;
            case "I64" -> DataType.INT64;
            default -> throw new IllegalArgumentException(
                    "dtype " + name + " is not one of F32, F64, I32, I64");
        };
    }
}
