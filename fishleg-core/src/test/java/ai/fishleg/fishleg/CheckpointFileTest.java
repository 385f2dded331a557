package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.fishleg.core.Checkpoint;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The checkpoint file is a standard safetensors file: read back here with a short parser of the
 * format's definition (u64 little-endian header length, JSON header, raw little-endian data), it
 * holds the model's weights and λ with their values, in float64 and float32, and its metadata.
 */
class CheckpointFileTest {

    @TempDir
    Path dir;

    /** One tensor as an independent reader sees it. */
    record Tensor(String dtype, long[] shape, double[] values) {}

    /** The file read by the format's definition alone. */
    record SafeTensors(Map<String, Tensor> tensors, Map<String, String> metadata, long headerLength) {}

    /** A safetensors reader written from the format's definition, independent of Checkpoint. */
    static SafeTensors read(byte[] file) {
        ByteBuffer buf = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long n = buf.getLong(0);
        String json = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(json).startsWith("{");
        JsonObject header = JsonParser.parseString(json).getAsJsonObject();
        int data = 8 + (int) n;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<long[]> ranges = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : header.entrySet()) {
            JsonObject o = e.getValue().getAsJsonObject();
            if (e.getKey().equals("__metadata__")) {
                o.entrySet().forEach(m -> metadata.put(m.getKey(), m.getValue().getAsString()));
                continue;
            }
            String dtype = o.get("dtype").getAsString();
            long[] shape = new long[o.getAsJsonArray("shape").size()];
            long count = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = o.getAsJsonArray("shape").get(i).getAsLong();
                count *= shape[i];
            }
            long begin = o.getAsJsonArray("data_offsets").get(0).getAsLong();
            long end = o.getAsJsonArray("data_offsets").get(1).getAsLong();
            ranges.add(new long[] {begin, end});
            double[] values = new double[(int) count];
            for (int i = 0; i < count; i++) {
                int at = data + (int) begin;
                values[i] = switch (dtype) {
                    case "F64" -> buf.getDouble(at + 8 * i);
                    case "F32" -> buf.getFloat(at + 4 * i);
                    default -> throw new AssertionError("unexpected dtype " + dtype);
                };
            }
            assertThat(end - begin).as(e.getKey()).isEqualTo(count * (dtype.equals("F64") ? 8 : 4));
            tensors.put(e.getKey(), new Tensor(dtype, shape, values));
        }
        // As safetensors readers require: the tensors tile the data, from 0 to the end of the file.
        ranges.sort((a, b) -> Long.compare(a[0], b[0]));
        long at = 0;
        for (long[] r : ranges) {
            assertThat(r[0]).isEqualTo(at);
            at = r[1];
        }
        assertThat(data + at).isEqualTo(file.length);
        return new SafeTensors(tensors, metadata, n);
    }

    /** A copy of a checkpoint with another format version in its metadata (same length). */
    static byte[] withFormatVersion(byte[] file, char version) {
        byte[] key = ("\"formatVersion\":\"" + Checkpoint.FORMAT_VERSION + "\"")
                .getBytes(StandardCharsets.US_ASCII);
        byte[] out = file.clone();
        for (int i = 0; i + key.length <= out.length; i++) {
            if (java.util.Arrays.equals(out, i, i + key.length, key, 0, key.length)) {
                out[i + key.length - 2] = (byte) version;
                return out;
            }
        }
        throw new AssertionError("no formatVersion entry");
    }

    private static void checkWeightsAndLambda(FishLeg opt, Block model, SafeTensors st) {
        model.getParameters().forEach(p -> {
            Tensor t = st.tensors().get("model/" + p.getKey());
            NDArray a = p.getValue().getArray();
            assertThat(t).as(p.getKey()).isNotNull();
            assertThat(t.shape()).containsExactly(a.getShape().getShape());
            assertThat(t.values()).as(p.getKey()).containsExactly(Dense.values(a));
        });
        int lambdas = 0;
        for (var block : opt.getBlocks()) {
            for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                Tensor t = st.tensors().get("aux/" + block.getName() + "/" + e.getKey());
                assertThat(t).as(block.getName() + "." + e.getKey()).isNotNull();
                assertThat(t.shape()).containsExactly(e.getValue().getShape().getShape());
                assertThat(t.values()).containsExactly(Dense.values(e.getValue()));
                lambdas++;
            }
        }
        assertThat(lambdas).isPositive();
    }

    private void trainAndCheck(DataType type, String dtype) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(3);
            NDArray x = Models.gaussian(m, rng, 60, 4, type);
            NDArray y = x.gt(0).toType(type, false);
            Block model = Models.mlp(m, type, 4, 5, 4);
            FishLikelihood lik = new BernoulliLikelihood();
            NllFunction nll = NllFunction.of(lik);
            var train = BatchSources.randomBatches(x, y, 20, 1);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll,
                    BatchSources.randomBatches(x, y, 20, 2)).updateAuxEvery(1).auxLr(0.01).build()) {
                for (int t = 0; t < 3; t++) {
                    try (NDManager b = m.newSubManager()) {
                        Models.trainStep(opt, model, nll, train.next(b));
                    }
                }
                Path file = dir.resolve(dtype + ".safetensors");
                opt.save(file, Map.of("note", "from a test"));
                byte[] bytes = Files.readAllBytes(file);
                SafeTensors st = read(bytes);
                assertThat(st.headerLength() % 8).as("data aligned to 8 bytes").isZero();
                assertThat(st.tensors().values()).allMatch(t -> t.dtype().equals(dtype));
                checkWeightsAndLambda(opt, model, st);
                assertThat(st.metadata())
                        .containsEntry("format", Checkpoint.FORMAT)
                        .containsEntry("formatVersion", Integer.toString(Checkpoint.FORMAT_VERSION))
                        .containsEntry("user.note", "from a test")
                        .containsKey("state.counters");
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(bytes, 8 + (int) st.headerLength(), bytes.length - 8 - (int) st.headerLength());
                assertThat(st.metadata().get("crc32")).isEqualTo(String.format("%08x", crc.getValue()));
            }
        }
    }

    @Test
    void aFloat64CheckpointIsAStandardSafetensorsFileWithTheWeightsAndLambda() throws IOException {
        trainAndCheck(DataType.FLOAT64, "F64");
    }

    @Test
    void aFloat32CheckpointToo() throws IOException {
        trainAndCheck(DataType.FLOAT32, "F32");
    }

    @Test
    void filesOfOtherKindsAreRejectedWithAClearMessage() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Block model = Models.mlp(m, DataType.FLOAT32, 4, 2);
            FishLikelihood lik = new BernoulliLikelihood();
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), NllFunction.of(lik),
                    mgr -> null).build()) {
                Path old = dir.resolve("old.ckpt");
                Files.write(old, "FLG4JCKP\0\0\0\1 and the rest".getBytes(StandardCharsets.US_ASCII));
                assertThatThrownBy(() -> opt.load(old)).hasMessageContaining("format version 1")
                        .hasMessageContaining("reads version " + Checkpoint.FORMAT_VERSION);

                // a valid safetensors file that is not a FishLeg4J checkpoint
                byte[] json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
                        .getBytes(StandardCharsets.US_ASCII);
                ByteBuffer other = ByteBuffer.allocate(8 + json.length + 4)
                        .order(ByteOrder.LITTLE_ENDIAN);
                other.putLong(json.length).put(json).putFloat(1f);
                Path foreign = dir.resolve("foreign.safetensors");
                Files.write(foreign, other.array());
                assertThat(read(other.array()).tensors()).containsOnlyKeys("w");
                assertThatThrownBy(() -> opt.load(foreign))
                        .hasMessageContaining("not a FishLeg4J checkpoint")
                        .hasMessageContaining("format = " + Checkpoint.FORMAT);
            }
        }
    }
}
