package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.Checkpoint;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.kfac.DampingForm;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.KroneckerFactoredBlock;
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
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
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
 * holds the model's weights and λ with their values, in float64 and float32, and its metadata; and
 * DJL's own safetensors decoder reads it, every tensor (FishLeg's and K-FAC's) equal to what the
 * optimizer's public API shows.
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
                        .containsKey("state.fishleg");
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

    /**
     * Every tensor of a checkpoint as DJL's own safetensors decoder ({@code NDList.decode}) reads
     * it, by name, in the order of the file. The checkpoint is a plain safetensors file (no prefix,
     * no trailer: the 8-byte header length, the JSON header, the data), so the decoder reads the
     * whole file; it ignores the {@code __metadata__} entry.
     */
    static Map<String, NDArray> decodeWithDjl(NDManager m, Path file) throws IOException {
        Map<String, NDArray> out = new LinkedHashMap<>();
        try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            for (NDArray a : NDList.decode(m, in)) {
                assertThat(out.put(a.getName(), a)).as("two tensors named " + a.getName()).isNull();
            }
        }
        return out;
    }

    /** A tensor of the file is the live array: same shape, type and values. */
    static void assertHolds(Map<String, NDArray> file, String name, NDArray live) {
        NDArray a = file.get(name);
        assertThat(a).as(name + " in the file").isNotNull();
        assertThat(a.getShape()).as(name).isEqualTo(live.getShape());
        assertThat(a.getDataType()).as(name).isEqualTo(live.getDataType());
        assertThat(Dense.values(a)).as(name).containsExactly(Dense.values(live));
    }

    @Test
    void djlsSafetensorsDecoderReadsEveryTensorOfAFishLegCheckpoint() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(4);
            NDArray x = Models.gaussian(m, rng, 60, 4, DataType.FLOAT32);
            NDArray y = x.gt(0).toType(DataType.FLOAT32, false);
            Block model = Models.mlp(m, DataType.FLOAT32, 4, 5, 4);
            FishLikelihood lik = new BernoulliLikelihood();
            NllFunction nll = NllFunction.of(lik);
            var train = BatchSources.randomBatches(x, y, 20, 1);
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(lik), nll,
                    BatchSources.randomBatches(x, y, 20, 2)).updateAuxEvery(1).auxLr(0.01)
                    .beta(0.9).build()) {
                for (int t = 0; t < 3; t++) {
                    try (NDManager b = m.newSubManager()) {
                        Models.trainStep(opt, model, nll, train.next(b));
                    }
                }
                Path file = dir.resolve("fishleg.safetensors");
                opt.save(file);
                try (NDManager sub = m.newSubManager()) {
                    Map<String, NDArray> st = decodeWithDjl(sub, file);
                    List<String> expected = new ArrayList<>();
                    model.getParameters().forEach(p -> {
                        assertHolds(st, "model/" + p.getKey(), p.getValue().getArray());
                        expected.add("model/" + p.getKey());
                    });
                    for (var block : opt.getBlocks()) {
                        String b = block.getName();
                        for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                            String aux = "aux/" + b + "/" + e.getKey();
                            assertHolds(st, aux, e.getValue());
                            // The auxiliary Adam's moments have no public reader: their shape is
                            // λ's, m is not all zero after three updates, v ≥ 0.
                            NDArray am = st.get("adam/" + b + "/" + e.getKey() + "/m");
                            NDArray av = st.get("adam/" + b + "/" + e.getKey() + "/v");
                            assertThat(am.getShape()).isEqualTo(e.getValue().getShape());
                            assertThat(av.getShape()).isEqualTo(e.getValue().getShape());
                            assertThat(java.util.Arrays.stream(Dense.values(am))).as(aux + " Adam m")
                                    .anyMatch(v -> v != 0);
                            assertThat(java.util.Arrays.stream(Dense.values(av))).as(aux + " Adam v")
                                    .allMatch(v -> v >= 0);
                            expected.addAll(List.of(aux, "adam/" + b + "/" + e.getKey() + "/m",
                                    "adam/" + b + "/" + e.getKey() + "/v"));
                        }
                        NDList momentum = opt.getMomentum(b);
                        NDList u = opt.getStoredGradient(b);
                        for (int i = 0; i < block.getOrder().size(); i++) {
                            String p = block.getOrder().get(i);
                            assertHolds(st, "momentum/" + b + "/" + p, momentum.get(i));
                            assertHolds(st, "u/" + b + "/" + p, u.get(i));
                            expected.addAll(List.of("momentum/" + b + "/" + p, "u/" + b + "/" + p));
                        }
                    }
                    assertThat(st.keySet()).as("every tensor of the file is checked")
                            .containsExactlyInAnyOrderElementsOf(expected);
                }
            }
        }
    }

    @Test
    void djlsSafetensorsDecoderReadsEveryTensorOfAKfacCheckpoint() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = Models.gaussian(m, new Rng(6), 40, 4, DataType.FLOAT32);
            NDArray y = x.gt(0).toType(DataType.FLOAT32, false);
            FishLikelihood lik = new BernoulliLikelihood();
            NllFunction nll = NllFunction.of(lik);
            var train = BatchSources.randomBatches(x, y, 8, 1);
            for (DampingForm form : DampingForm.values()) {
                SequentialBlock model = new SequentialBlock()
                        .add(RecordingLinear.builder().setUnits(6).build())
                        .add(Activation::tanh)
                        .add(Linear.builder().setUnits(5).build())
                        .add(Activation::tanh)
                        .add(RecordingLinear.builder().setUnits(4).build());
                model.initialize(m, DataType.FLOAT32, new Shape(1, 4));
                try (Kfac opt = Kfac.builder(model, DrawFunction.of(lik), nll,
                        BatchSources.randomBatches(x, y, 8, 2)).momentum(0.9).dampingForm(form)
                        .build()) {
                    for (int t = 0; t < 3; t++) {
                        try (NDManager b = m.newSubManager()) {
                            opt.zeroGrad();
                            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                                gc.backward(nll.nll(model, train.next(b)));
                            }
                            opt.step();
                        }
                    }
                    Path file = dir.resolve("kfac-" + form + ".safetensors");
                    opt.save(file);
                    try (NDManager sub = m.newSubManager()) {
                        Map<String, NDArray> st = decodeWithDjl(sub, file);
                        List<String> expected = new ArrayList<>();
                        model.getParameters().forEach(p -> {
                            assertHolds(st, "model/" + p.getKey(), p.getValue().getArray());
                            expected.add("model/" + p.getKey());
                        });
                        List<String> groups = new ArrayList<>(opt.getSgdGroups());
                        for (KroneckerFactoredBlock b : opt.getBlocks()) {
                            String k = "kfac/" + b.getName() + "/";
                            assertHolds(st, k + "A", b.getInputFactor());
                            assertHolds(st, k + "G", b.getOutputFactor());
                            assertHolds(st, k + "Ainv", b.getInputInverse());
                            assertHolds(st, k + "Ginv", b.getOutputInverse());
                            expected.addAll(List.of(k + "A", k + "G", k + "Ainv", k + "Ginv"));
                            b.getEigenScale().ifPresent(s -> {
                                assertHolds(st, k + "scale", s);
                                expected.add(k + "scale");
                            });
                            groups.add(b.getName());
                        }
                        assertThat(form == DampingForm.EIGEN).isEqualTo(expected.stream()
                                .anyMatch(n -> n.endsWith("/scale")));
                        for (String g : groups) {
                            // momentum/<group>/<parameter>, in the group's parameter order
                            List<String> names = st.keySet().stream()
                                    .filter(n -> n.startsWith("momentum/" + g + "/")).toList();
                            NDList momentum = opt.getMomentum(g);
                            assertThat(names).as(g).hasSize(momentum.size());
                            for (int i = 0; i < names.size(); i++) {
                                assertHolds(st, names.get(i), momentum.get(i));
                            }
                            expected.addAll(names);
                        }
                        assertThat(st.keySet()).as("every tensor of the file is checked")
                                .containsExactlyInAnyOrderElementsOf(expected);
                    }
                }
            }
        }
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
