package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.fishleg.core.Checkpoint;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.GaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import com.google.gson.Gson;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Checkpoints: exact round trip, exact resume, atomic saves, and rejection of bad files. */
class CheckpointTest {

    @TempDir
    Path dir;

    NDManager m;
    NDArray x;
    NDArray y;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
        Rng rng = new Rng(5);
        x = Models.gaussian(m, rng, 200, 4, DataType.FLOAT32);
        y = x.gt(0).toType(DataType.FLOAT32, false);
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    /** One complete training setup: model, likelihoods, sources, optimizer. */
    final class Run implements AutoCloseable {
        final Block model = seeded(() -> Models.mlp(m, DataType.FLOAT32, 4, 5, 4));
        final FishLikelihood lik = new BernoulliLikelihood();
        final GaussianLikelihood learnable = new GaussianLikelihood(m, 1.0, DataType.FLOAT32);
        final NllFunction nll = NllFunction.of(lik);
        final BatchSource train = BatchSources.randomBatches(x, y, 20, 11);
        final FishLeg opt;

        Run() {
            this(AuxUpdate.ADAM);
        }

        Run(AuxUpdate auxUpdate) {
            lik.setSeed(3);
            opt = FishLeg.builder(model, DrawFunction.of(lik), nll, BatchSources.randomBatches(x, y, 20, 12))
                    .likelihood(learnable).updateAuxEvery(3).auxLr(1e-2).fineTune(true)
                    .weightDecay(1e-3).auxUpdate(auxUpdate).build();
        }

        void steps(int n) {
            for (int t = 0; t < n; t++) {
                try (NDManager b = m.newSubManager()) {
                    Models.trainStep(opt, model, nll, train.next(b));
                }
            }
        }

        Map<String, String> position() {
            return Map.of("trainRng", Long.toString(((RngOwner) train).getRng().getState()));
        }

        void seek(Map<String, String> md) {
            ((RngOwner) train).getRng().setState(Long.parseLong(md.get("trainRng")));
        }

        @Override
        public void close() {
            opt.close();
        }
    }

    /** Every run starts from the same initial weights. */
    static Block seeded(java.util.function.Supplier<Block> build) {
        ai.djl.engine.Engine.getInstance().setRandomSeed(42);
        return build.get();
    }

    /**
     * Two optimizers are in the same state when their checkpoints are the same bytes: every tensor
     * (model, λ, momentum, stored gradients, Adam's moments), every counter, generator state and
     * Adam step count is in the file.
     */
    void assertSameState(FishLeg a, FishLeg b) throws IOException {
        assertThat(saved(b)).isEqualTo(saved(a));
    }

    /** @return the bytes of a checkpoint of the optimizer, without caller entries */
    byte[] saved(FishLeg opt) throws IOException {
        Path file = Files.createTempFile(dir, "state", ".ckpt");
        opt.save(file);
        return Files.readAllBytes(file);
    }

    /**
     * @return one part of FishLeg's scalar state in a checkpoint (the JSON object of the metadata
     *     entry {@code state.fishleg}), read from the safetensors header by the format's definition
     *     (8 bytes of header length, then the header), not by Checkpoint
     */
    static Map<String, Object> metadataEntry(Path file, String key) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        JsonObject header = JsonParser.parseString(
                new String(bytes, 8, (int) n, StandardCharsets.UTF_8)).getAsJsonObject();
        String json = header.getAsJsonObject("__metadata__").get("state.fishleg").getAsString();
        JsonObject state = JsonParser.parseString(json).getAsJsonObject();
        return new Gson().fromJson(state.get(key), new TypeToken<Map<String, Object>>() {}.getType());
    }

    @Test
    void roundTripRestoresEveryTensorCounterAndGenerator() throws IOException {
        Path file = dir.resolve("c.ckpt");
        try (Run a = new Run(); Run b = new Run()) {
            a.steps(7);
            a.opt.save(file, Map.of("note", "hello"));
            assertThat(metadataEntry(file, "rng")).containsKeys("optimizer", "auxData", "draw");
            assertThat(saved(b.opt)).isNotEqualTo(saved(a.opt));
            Map<String, String> md = b.opt.load(file);
            assertThat(md).containsEntry("note", "hello");
            assertSameState(a.opt, b.opt);
            assertThat(metadataEntry(file, "adamSteps").values()).isNotEmpty()
                    .allMatch(s -> ((Number) s).longValue() == 3); // steps 0, 3, 6
        }
    }

    @ParameterizedTest
    @EnumSource(AuxUpdate.class)
    void resumingContinuesExactlyLikeAnUninterruptedRun(AuxUpdate auxUpdate) throws IOException {
        Path file = dir.resolve("resume.ckpt");
        try (Run straight = new Run(auxUpdate); Run first = new Run(auxUpdate);
                Run second = new Run(auxUpdate)) {
            straight.steps(16);
            first.steps(8);
            first.opt.save(file, first.position());
            second.seek(second.opt.load(file));
            second.steps(8);
            assertSameState(straight.opt, second.opt);
        }
    }

    /**
     * The auxiliary rule does not change the format (the Adam's moments are kept, at zero, under
     * LIE_GROUP): a checkpoint of either rule resumes under the other, with the same tensors.
     */
    @Test
    void aCheckpointResumesUnderEitherAuxiliaryRule() throws IOException {
        Path file = dir.resolve("rule.ckpt");
        try (Run adam = new Run(AuxUpdate.ADAM); Run lie = new Run(AuxUpdate.LIE_GROUP);
                Run back = new Run(AuxUpdate.ADAM)) {
            adam.steps(4);
            adam.opt.save(file);
            lie.opt.load(file);
            assertSameTensors(adam, lie);
            lie.steps(4);
            lie.opt.save(file);
            back.opt.load(file);
            assertSameTensors(lie, back);
        }
    }

    /** The model's parameters and every block's λ are equal (the settings may differ). */
    static void assertSameTensors(Run a, Run b) {
        var pa = a.model.getParameters();
        var pb = b.model.getParameters();
        for (int i = 0; i < pa.size(); i++) {
            assertThat(Dense.values(pb.get(i).getValue().getArray())).as(pa.get(i).getKey())
                    .containsExactly(Dense.values(pa.get(i).getValue().getArray()));
        }
        for (int i = 0; i < a.opt.getBlocks().size(); i++) {
            var block = a.opt.getBlocks().get(i);
            var other = b.opt.getBlocks().get(i).getAuxParameters();
            block.getAuxParameters().forEach((name, t) ->
                    assertThat(Dense.values(other.get(name))).as(block.getName() + "." + name)
                            .containsExactly(Dense.values(t)));
        }
    }

    @Test
    void anInterruptedSaveLeavesThePreviousCheckpointIntact() throws IOException {
        Path file = dir.resolve("keep.ckpt");
        try (Run a = new Run()) {
            a.steps(2);
            a.opt.save(file);
        }
        byte[] good = Files.readAllBytes(file);
        // float16 tensors cannot be written: the save fails after it has started writing.
        Block half = Models.mlp(m, DataType.FLOAT16, 4, 2);
        FishLikelihood lik = new BernoulliLikelihood();
        try (FishLeg opt = FishLeg.builder(half, DrawFunction.of(lik), NllFunction.of(lik),
                mgr -> null).build()) {
            assertThatThrownBy(() -> opt.save(file)).hasMessageContaining("FLOAT16");
        }
        assertThat(Files.readAllBytes(file)).isEqualTo(good);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("keep.ckpt");
        }
    }

    @Test
    void badFilesAreRejectedWithAClearMessageAndChangeNothing() throws IOException {
        Path file = dir.resolve("bad.ckpt");
        try (Run a = new Run(); Run b = new Run()) {
            a.steps(4);
            a.opt.save(file);
            byte[] good = Files.readAllBytes(file);
            byte[] before = saved(b.opt);

            byte[] corrupt = good.clone();
            corrupt[corrupt.length - 100] ^= 0x40;
            Files.write(file, corrupt);
            assertThatThrownBy(() -> b.opt.load(file)).hasMessageContaining("corrupt")
                    .hasMessageContaining("checksum");

            Files.write(file, java.util.Arrays.copyOf(good, good.length - 37));
            assertThatThrownBy(() -> b.opt.load(file)).hasMessageContaining("truncated");

            Files.write(file, java.util.Arrays.copyOf(good, 30));
            assertThatThrownBy(() -> b.opt.load(file)).hasMessageContaining("truncated");

            byte[] magic = good.clone();
            magic[0] = 'X';
            Files.write(file, magic);
            assertThatThrownBy(() -> b.opt.load(file)).hasMessageContaining("not a FishLeg4J checkpoint");

            Files.write(file, CheckpointFileTest.withFormatVersion(good, '9'));
            assertThatThrownBy(() -> b.opt.load(file)).hasMessageContaining("format version 9")
                    .hasMessageContaining("reads version " + Checkpoint.FORMAT_VERSION);

            assertThatThrownBy(() -> b.opt.load(dir.resolve("missing.ckpt")))
                    .hasMessageContaining("does not exist");

            assertThat(saved(b.opt)).as("nothing changed").isEqualTo(before);
            assertThat(b.opt.getStepCount()).isZero();
        }
    }

    @Test
    void aCheckpointOfAnotherModelShapeSaysWhatDoesNotMatch() throws IOException {
        Path file = dir.resolve("other.ckpt");
        try (Run a = new Run()) {
            a.steps(1);
            a.opt.save(file);
        }
        Block wider = Models.mlp(m, DataType.FLOAT32, 4, 6, 4);
        FishLikelihood lik = new BernoulliLikelihood();
        try (FishLeg opt = FishLeg.builder(wider, DrawFunction.of(lik), NllFunction.of(lik), mgr -> null)
                .likelihood(new GaussianLikelihood(m, 1.0, DataType.FLOAT32)).fineTune(true).build()) {
            assertThatThrownBy(() -> opt.load(file))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("does not match")
                    .hasMessageContaining("model/01Linear_weight: checkpoint has (5, 4) FLOAT32,"
                            + " this optimizer has (6, 4) FLOAT32")
                    .hasMessageContaining("aux/01Linear/R");
        }
        Block fewer = Models.mlp(m, DataType.FLOAT32, 4, 4);
        try (FishLeg opt = FishLeg.builder(fewer, DrawFunction.of(lik), NllFunction.of(lik), mgr -> null)
                .build()) {
            assertThatThrownBy(() -> opt.load(file))
                    .hasMessageContaining("aux/03Linear/L: in the checkpoint but not in this optimizer");
        }
    }
}
