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
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Json;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Number-for-number parity with the reference FishLeg: replays every recorded run in float64 and
 * compares every parameter, every auxiliary tensor and the auxiliary loss after every step, relative
 * Frobenius error ≤ 1e-6. The cases are the JSON files of {@code src/test/resources/golden} (format:
 * the README.md there); the system property {@code fishleg.golden.dir} replays another folder of
 * cases in the same format instead. Each case is reported as a dynamic test under its name.
 */
class GoldenParityTest {

    static final double TOLERANCE = 1e-6;
    static final String PROPERTY = "fishleg.golden.dir";
    /** The vendored cases, as a test resource folder. */
    static final String RESOURCE = "golden";

    /**
     * The folder of cases: the one named by {@value #PROPERTY} when that is set (it must exist),
     * otherwise the vendored cases, found on the test class path (Maven copies them to
     * target/test-classes) or, when the resources were not copied (an IDE run), in the module's
     * src/test/resources whether the working directory is the module or the repository root.
     */
    static Path goldenDir() {
        String given = System.getProperty(PROPERTY);
        if (given != null && !given.isBlank()) {
            Path dir = Paths.get(given.trim()).toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new AssertionError("the folder of parity cases given by -D" + PROPERTY + "="
                        + given + " does not exist (resolved to " + dir + "); give a folder of"
                        + " *.json cases, or leave the property unset to replay the vendored cases");
            }
            return dir;
        }
        URL resource = GoldenParityTest.class.getClassLoader().getResource(RESOURCE);
        if (resource != null && "file".equals(resource.getProtocol())) {
            try {
                return Paths.get(resource.toURI());
            } catch (URISyntaxException e) {
                throw new AssertionError("cannot read the test resource folder " + resource, e);
            }
        }
        for (Path candidate : List.of(
                Paths.get("src/test/resources", RESOURCE),
                Paths.get("fishleg-core/src/test/resources", RESOURCE))) {
            if (Files.isDirectory(candidate)) {
                return candidate.toAbsolutePath().normalize();
            }
        }
        throw new AssertionError("the vendored parity cases (fishleg-core/src/test/resources/"
                + RESOURCE + ") are neither on the test class path nor under the working directory "
                + Paths.get("").toAbsolutePath() + "; run the tests with Maven, or set -D" + PROPERTY);
    }

    /** The *.json cases of a folder, sorted by file name; none is an error naming the folder. */
    static List<Path> cases(Path dir) throws IOException {
        List<Path> cases;
        try (Stream<Path> files = Files.list(dir)) {
            cases = files.filter(p -> p.getFileName().toString().endsWith(".json")).sorted().toList();
        }
        if (cases.isEmpty()) {
            throw new AssertionError("no parity cases (*.json files) in " + dir
                    + (System.getProperty(PROPERTY, "").isBlank() ? ""
                            : " (given by -D" + PROPERTY + ")"));
        }
        return cases;
    }

    @TestFactory
    Stream<DynamicTest> everyGoldenCase() throws IOException {
        return cases(goldenDir()).stream().map(p -> DynamicTest.dynamicTest(
                caseName(p), p.toUri(), () -> replay(p)));
    }

    /** "name (file.json)": the case's own name, and the file it comes from. */
    static String caseName(Path file) {
        JsonObject c;
        try {
            c = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the parity case " + file, e);
        }
        String fileName = file.getFileName().toString();
        return c.has("name") ? c.get("name").getAsString() + " (" + fileName + ")" : fileName;
    }

    @Test
    void anExplicitFolderThatIsMissingOrHoldsNoCasesIsAnError(@TempDir Path tmp) throws IOException {
        String before = System.getProperty(PROPERTY);
        try {
            Path missing = tmp.resolve("no-such-folder");
            System.setProperty(PROPERTY, missing.toString());
            assertThatThrownBy(GoldenParityTest::goldenDir)
                    .hasMessageContaining("does not exist").hasMessageContaining(PROPERTY);
            Path empty = Files.createDirectory(tmp.resolve("empty"));
            Files.writeString(empty.resolve("notes.txt"), "not a case");
            System.setProperty(PROPERTY, empty.toString());
            assertThat(goldenDir()).isEqualTo(empty.toAbsolutePath().normalize());
            assertThatThrownBy(() -> cases(goldenDir()))
                    .hasMessageContaining("no parity cases").hasMessageContaining(PROPERTY);
        } finally {
            if (before == null) {
                System.clearProperty(PROPERTY);
            } else {
                System.setProperty(PROPERTY, before);
            }
        }
    }

    @Test
    void byDefaultTheVendoredCasesAreReplayed() throws IOException {
        String before = System.getProperty(PROPERTY);
        try {
            System.clearProperty(PROPERTY);
            List<String> names = new ArrayList<>();
            for (Path p : cases(goldenDir())) {
                names.add(p.getFileName().toString());
            }
            assertThat(names).contains("bernoulli_every3_normalized.json", "gaussian_every1.json",
                    "gaussian_warmup.json", "softmax_neg2_finetune.json");
        } finally {
            if (before != null) {
                System.setProperty(PROPERTY, before);
            }
        }
    }

    @Test
    void initializationIsReplayedAsRecorded() {
        try (NDManager manager = NDManager.newBaseManager()) {
            JsonObject spec = JsonParser.parseString(
                    "{\"layers\": [{\"type\": \"linear\", \"in\": 2, \"out\": 1}]}")
                    .getAsJsonObject();
            GoldenModel gm = GoldenModel.build(manager, spec);
            FishLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            for (String name : List.of("zero", "uniform")) {
                FishLeg.Builder b = FishLeg.builder(gm.model, DrawFunction.of(likelihood),
                        NllFunction.of(likelihood), m -> null);
                JsonObject hyper = JsonParser.parseString(
                        "{\"initialization\": \"" + name + "\"}").getAsJsonObject();
                applyHyper(b, hyper, gm);
                try (FishLeg opt = b.build()) {
                    assertThat(opt.getHyperparameters().initialization())
                            .isEqualTo(Initialization.parse(name));
                }
            }
            FishLeg.Builder b = FishLeg.builder(gm.model, DrawFunction.of(likelihood),
                    NllFunction.of(likelihood), m -> null);
            JsonObject normal = JsonParser.parseString("{\"initialization\": \"normal\"}")
                    .getAsJsonObject();
            assertThatThrownBy(() -> applyHyper(b, normal, gm))
                    .hasMessageContaining("cannot be replayed");
        }
    }

    static void replay(Path file) throws IOException {
        JsonObject c = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertThat(c.get("dtype").getAsString()).isEqualTo("float64");
        try (NDManager manager = NDManager.newBaseManager()) {
            GoldenModel gm = GoldenModel.build(manager, c.getAsJsonObject("model"));
            gm.load(c.getAsJsonObject("init_params"));
            FishLikelihood likelihood = likelihood(c);
            NllFunction nll = NllFunction.of(likelihood);

            // Replayed auxiliary batches and draws, in recorded order over the whole run.
            Deque<JsonObject> auxQueue = new ArrayDeque<>();
            for (JsonElement step : c.getAsJsonArray("steps")) {
                for (JsonElement a : step.getAsJsonObject().getAsJsonArray("aux")) {
                    auxQueue.add(a.getAsJsonObject());
                }
            }
            Deque<JsonObject> drawQueue = new ArrayDeque<>(auxQueue);
            // The batch's own labels are NaN: the recorded labels may only come through draw.
            BatchSource auxData = m -> {
                assertThat(auxQueue).as("more auxiliary batches requested than recorded").isNotEmpty();
                JsonObject a = auxQueue.poll();
                NDArray labels = Json.array(m, a.get("drawn_y"));
                return LabeledBatch.of(Json.array(m, a.get("x")),
                        m.full(labels.getShape(), Float.NaN, labels.getDataType()));
            };
            DrawFunction draw = (model, inputs) -> {
                JsonObject a = drawQueue.poll();
                assertThat(a).as("more draws than recorded").isNotNull();
                NDArray x = Json.array(inputs.head().getManager(), a.get("x"));
                assertThat(Dense.relError(Dense.values(inputs.head()), Dense.values(x)))
                        .as("draw called on the recorded auxiliary batch").isLessThan(1e-15);
                return new LabeledBatch(
                        inputs, new NDList(Json.array(inputs.head().getManager(), a.get("drawn_y"))));
            };

            JsonObject hyper = c.getAsJsonObject("hyper");
            FishLeg.Builder b = FishLeg.builder(gm.model, draw, nll, auxData);
            applyHyper(b, hyper, gm);
            int warmup = hyper.has("warmup") ? hyper.get("warmup").getAsInt() : 0;
            if (warmup > 0) {
                Deque<JsonObject> warmQueue = new ArrayDeque<>();
                for (JsonElement w : c.getAsJsonArray("warmup_batches")) {
                    warmQueue.add(w.getAsJsonObject());
                }
                b.warmupData(m -> {
                    JsonObject w = warmQueue.poll();
                    assertThat(w).as("more warm-up batches requested than recorded").isNotNull();
                    return LabeledBatch.of(Json.array(m, w.get("x")), Json.array(m, w.get("y")));
                }).warmupLoss(nll);
            }
            try (FishLeg opt = b.build()) {
                compareAux(opt, gm, c.getAsJsonObject("aux_params_after_warmup"), "after warm-up");
                JsonArray steps = c.getAsJsonArray("steps");
                for (int k = 0; k < steps.size(); k++) {
                    JsonObject step = steps.get(k).getAsJsonObject();
                    long auxBefore = opt.getAuxUpdateCount();
                    try (NDManager batch = manager.newSubManager()) {
                        LabeledBatch train =
                                LabeledBatch.of(
                                        Json.array(batch, step.get("x")),
                                        Json.array(batch, step.get("y")));
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            gc.backward(nll.nll(gm.model, train));
                        }
                        opt.step();
                    }
                    String where = file.getFileName() + " step " + k;
                    int recordedAux = step.getAsJsonArray("aux").size();
                    assertThat(opt.getAuxUpdateCount() - auxBefore)
                            .as(where + ": auxiliary updates").isEqualTo(recordedAux);
                    if (recordedAux > 0) {
                        double expected = step.get("aux_loss").getAsDouble();
                        double err = Math.abs(opt.getAuxLoss() - expected)
                                / Math.max(Math.abs(expected), 1e-12);
                        assertThat(err).as(where + ": aux_loss " + opt.getAuxLoss()
                                + " vs " + expected).isLessThanOrEqualTo(TOLERANCE);
                    }
                    gm.compareParams(step.getAsJsonObject("params_after"), where);
                    compareAux(opt, gm, step.getAsJsonObject("aux_params_after"), where);
                }
                assertThat(auxQueue).as("every recorded auxiliary batch was used").isEmpty();
                assertThat(drawQueue).as("every recorded draw was used (labels sampled through"
                        + " draw for each auxiliary batch)").isEmpty();
            }
        }
    }

    static FishLikelihood likelihood(JsonObject c) {
        JsonObject l = c.getAsJsonObject("likelihood");
        String type = l.get("type").getAsString();
        switch (type) {
            case "fixed_gaussian":
                double sigma = l.has("sigma") ? l.get("sigma").getAsDouble()
                        : c.getAsJsonObject("hyper").get("sigma").getAsDouble();
                return new FixedGaussianLikelihood(sigma);
            case "bernoulli":
                return new BernoulliLikelihood();
            case "softmax":
                return new SoftMaxLikelihood();
            default:
                throw new IllegalArgumentException("unknown likelihood type in golden file: " + type);
        }
    }

    static void applyHyper(FishLeg.Builder b, JsonObject h, GoldenModel gm) {
        for (Map.Entry<String, JsonElement> e : h.entrySet()) {
            JsonElement v = e.getValue();
            if (v.isJsonNull()) {
                continue;
            }
            switch (e.getKey()) {
                case "fish_lr" -> b.fishLr(v.getAsDouble());
                case "damping" -> b.damping(v.getAsDouble());
                case "weight_decay" -> b.weightDecay(v.getAsDouble());
                case "beta" -> b.beta(v.getAsDouble());
                case "update_aux_every" -> b.updateAuxEvery(v.getAsInt());
                case "aux_lr" -> b.auxLr(v.getAsDouble());
                case "aux_betas" -> b.auxBetas(
                        v.getAsJsonArray().get(0).getAsDouble(), v.getAsJsonArray().get(1).getAsDouble());
                case "aux_eps" -> b.auxEps(v.getAsDouble());
                case "num_steps" -> b.numSteps(v.getAsLong());
                case "batch_speedup" -> b.batchSpeedup(v.getAsBoolean());
                case "full" -> b.full(v.getAsBoolean());
                case "normalization" -> b.normalization(v.getAsBoolean());
                case "fine_tune" -> b.fineTune(v.getAsBoolean());
                case "scale" -> b.scale(v.getAsDouble());
                case "warmup" -> b.warmup(v.getAsInt());
                case "initialization" -> b.initialization(initialization(v.getAsString()));
                case "module_names" -> b.moduleNames(gm.djlNames(v.getAsJsonArray(), "module_names"));
                case "skip_names" -> b.skipNames(gm.djlNames(v.getAsJsonArray(), "skip_names"));
                case "sigma" -> { } // belongs to the likelihood
                default -> throw new IllegalArgumentException(
                        "unknown hyperparameter in golden file: " + e.getKey());
            }
        }
    }

    /**
     * The reference's {@code initialization} as replayed: "uniform" keeps {@code init_params},
     * "zero" zeroes the managed linear layers (as the reference intends). "normal" draws from the
     * reference's own random generator, which cannot be replayed.
     */
    static Initialization initialization(String name) {
        Initialization init = Initialization.parse(name);
        if (init == Initialization.NORMAL) {
            throw new IllegalArgumentException("a golden case with initialization \"normal\" cannot"
                    + " be replayed: its weights come from the reference's random generator; record"
                    + " the case with \"uniform\" (init_params are then the starting weights) or"
                    + " \"zero\"");
        }
        return init;
    }

    static void compareAux(FishLeg opt, GoldenModel gm, JsonObject expected, String where) {
        try (NDManager m = NDManager.newBaseManager()) {
            for (Map.Entry<String, JsonElement> e : expected.entrySet()) {
                String key = e.getKey(); // "<layer index>.<L|R|A>"
                int dot = key.lastIndexOf('.');
                int index = Integer.parseInt(key.substring(0, dot));
                CurvatureBlock block = opt.getBlock(gm.blockName(index));
                NDArray actual = block.getAuxParameters().get(key.substring(dot + 1));
                assertThat(actual).as(where + ": aux tensor " + key).isNotNull();
                NDArray exp = Json.array(m, e.getValue());
                assertThat(actual.getShape()).as(where + ": shape of " + key).isEqualTo(exp.getShape());
                double err = Dense.relError(Dense.values(actual), Dense.values(exp));
                assertThat(err).as(where + ": aux tensor " + key).isLessThanOrEqualTo(TOLERANCE);
            }
        }
    }

    /** A sequential MLP built from a golden file's {@code model} field. */
    static final class GoldenModel {
        final SequentialBlock model;
        final int[] childOfLayer; // golden layer index -> 1-based DJL child position

        private GoldenModel(SequentialBlock model, int[] childOfLayer) {
            this.model = model;
            this.childOfLayer = childOfLayer;
        }

        static GoldenModel build(NDManager manager, JsonObject spec) {
            SequentialBlock net = new SequentialBlock();
            JsonArray layers = spec.getAsJsonArray("layers");
            long in = -1;
            for (JsonElement le : layers) {
                JsonObject l = le.getAsJsonObject();
                switch (l.get("type").getAsString()) {
                    case "linear" -> {
                        if (in < 0) {
                            in = l.get("in").getAsLong();
                        }
                        net.add(Linear.builder()
                                .setUnits(l.get("out").getAsLong())
                                .optBias(!l.has("bias") || l.get("bias").getAsBoolean())
                                .build());
                    }
                    case "relu" -> net.add(Activation.reluBlock());
                    case "tanh" -> net.add(Activation.tanhBlock());
                    default -> throw new IllegalArgumentException(
                            "unknown layer type in golden file: " + l.get("type"));
                }
            }
            net.initialize(manager, DataType.FLOAT64, new Shape(1, in));
            int[] child = new int[layers.size()];
            for (int i = 0; i < child.length; i++) {
                child[i] = i + 1;
            }
            return new GoldenModel(net, child);
        }

        /** PyTorch module names of the sequence ("0", "2") as DJL dotted names. */
        List<String> djlNames(JsonArray names, String key) {
            List<String> out = new java.util.ArrayList<>();
            for (JsonElement n : names) {
                String name = n.getAsString();
                if (!name.matches("\\d+")) {
                    throw new IllegalArgumentException("golden " + key + " entries must be layer"
                            + " indices of the sequential model (like \"0\"), got '" + name + "'");
                }
                out.add(blockName(Integer.parseInt(name)));
            }
            return out;
        }

        String blockName(int layerIndex) {
            return model.getChildren().get(childOfLayer[layerIndex] - 1).getKey();
        }

        NDArray param(String key) { // "<index>.weight"
            int dot = key.indexOf('.');
            int index = Integer.parseInt(key.substring(0, dot));
            Block layer = model.getChildren().get(childOfLayer[index] - 1).getValue();
            return layer.getParameters().get(key.substring(dot + 1)).getArray();
        }

        void load(JsonObject params) {
            try (NDManager m = NDManager.newBaseManager()) {
                for (Map.Entry<String, JsonElement> e : params.entrySet()) {
                    NDArray target = param(e.getKey());
                    NDArray v = Json.array(m, e.getValue());
                    assertThat(target.getShape()).as("shape of " + e.getKey()).isEqualTo(v.getShape());
                    target.set(new ai.djl.ndarray.index.NDIndex("..."), v);
                }
            }
        }

        void compareParams(JsonObject expected, String where) {
            try (NDManager m = NDManager.newBaseManager()) {
                for (Map.Entry<String, JsonElement> e : expected.entrySet()) {
                    double err = Dense.relError(
                            Dense.values(param(e.getKey())),
                            Dense.values(Json.array(m, e.getValue())));
                    assertThat(err).as(where + ": parameter " + e.getKey())
                            .isLessThanOrEqualTo(TOLERANCE);
                }
            }
        }
    }
}
