package ai.fishleg.core;

import static org.assertj.core.api.Assertions.assertThat;

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
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.KroneckerFactoredBlock;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.muon.Muon;
import ai.fishleg.muon.MuonLayers;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Checkpoints written by an earlier version of FishLeg4J still load and resume as they did then.
 *
 * <p>The files in {@code src/test/resources/checkpoints/v2-flat-metadata} were written by {@link
 * #writeResources} with the code of commit 2d43e17 (the safetensors format version 2, read as a
 * whole-file array, each optimizer's scalar state in its own flat metadata keys): for FishLeg,
 * K-FAC and Muon, {@code <kind>.safetensors} after {@value #BEFORE} steps, and {@code
 * <kind>-resumed.safetensors}, written after a fresh optimizer of that version loaded the first file
 * and took {@value #AFTER} more steps. Here the current code loads the first file into a fresh
 * optimizer (other initial weights), checks that it holds exactly the file's tensors (as DJL's own
 * safetensors decoder reads them), takes the same {@value #AFTER} steps and compares with the state
 * the earlier version reached. That comparison allows a relative error of {@value #TOLERANCE} per
 * tensor (float64): the files were computed on one machine, and PyTorch's CPU kernels may round
 * differently on another; any piece of state that did not load (a counter, a generator, a moment)
 * changes the steps by far more.
 */
class CheckpointCompatibilityTest {

    static final int BEFORE = 5;
    static final int AFTER = 4;
    static final double TOLERANCE = 1e-10;
    static final String RESOURCES = "/checkpoints/v2-flat-metadata/";
    static final String NOTE = "written for CheckpointCompatibilityTest";

    @TempDir
    Path dir;

    /** The optimizers that write checkpoints. */
    enum Kind {
        FISHLEG, KFAC, MUON;

        String file() {
            return name().toLowerCase(java.util.Locale.ROOT) + ".safetensors";
        }

        String resumedFile() {
            return name().toLowerCase(java.util.Locale.ROOT) + "-resumed.safetensors";
        }
    }

    /** A model and its optimizer; everything but the initial weights is fixed. */
    record Setup(Block model, CurvatureOptimizer opt, NDArray x, NDArray y) implements AutoCloseable {
        @Override
        public void close() {
            opt.close();
        }
    }

    static Setup setup(NDManager m, Kind kind, int seed) {
        NDArray x = Models.gaussian(m, new Rng(1), 48, 4, DataType.FLOAT64);
        NDArray y = x.gt(0).toType(DataType.FLOAT64, false);
        FishLikelihood lik = new BernoulliLikelihood();
        lik.setSeed(17);
        Engine.getInstance().setRandomSeed(seed);
        return switch (kind) {
            case FISHLEG -> {
                Block model = Models.mlp(m, DataType.FLOAT64, 4, 5, 4);
                yield new Setup(model, FishLeg.builder(model, DrawFunction.of(lik), NllFunction.of(lik),
                                BatchSources.randomBatches(x, y, 6, 23))
                        .updateAuxEvery(2).auxLr(1e-2).fineTune(true).weightDecay(1e-3).klClip(1e-2)
                        .build(), x, y);
            }
            case KFAC -> {
                SequentialBlock model = new SequentialBlock()
                        .add(RecordingLinear.builder().setUnits(6).build())
                        .add(Activation::tanh)
                        .add(Linear.builder().setUnits(5).build())
                        .add(Activation::tanh)
                        .add(RecordingLinear.builder().setUnits(4).build());
                model.initialize(m, DataType.FLOAT64, new Shape(1, 4));
                yield new Setup(model, Kfac.builder(model, DrawFunction.of(lik), NllFunction.of(lik),
                                BatchSources.randomBatches(x, y, 6, 23))
                        .lr(0.05).damping(0.05).covEvery(2).invEvery(3).klClip(1e-4).momentum(0.9)
                        .weightDecay(1e-3).build(), x, y);
            }
            case MUON -> {
                Block model = Models.mlp(m, DataType.FLOAT64, 4, 6, 5, 4);
                yield new Setup(model, Muon.builder().lr(0.02).weightDecay(0.01)
                        .layers(MuonLayers.hidden()).build(model), x, y);
            }
        };
    }

    /** Steps from..to−1, each on a batch that depends only on the step's index. */
    static void train(Setup s, NDManager m, int from, int to) {
        NllFunction nll = NllFunction.of(new BernoulliLikelihood());
        for (int t = from; t < to; t++) {
            BatchSource source = BatchSources.randomBatches(s.x(), s.y(), 4, 1000 + t);
            try (NDManager b = m.newSubManager()) {
                s.opt().zeroGrad();
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(s.model(), source.next(b)));
                }
                s.opt().step();
            }
        }
    }

    /** Every tensor of a checkpoint by name, as DJL's safetensors decoder reads it. */
    static Map<String, double[]> decode(NDManager m, Path file) throws IOException {
        Map<String, double[]> out = new LinkedHashMap<>();
        try (NDManager sub = m.newSubManager();
                InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
            for (NDArray a : NDList.decode(sub, in)) {
                out.put(a.getName(), Dense.values(a));
            }
        }
        return out;
    }

    /** A resource of this test, copied to the temporary folder. */
    Path resource(String name) throws IOException {
        Path out = dir.resolve(name);
        try (InputStream in = CheckpointCompatibilityTest.class.getResourceAsStream(RESOURCES + name)) {
            assertThat(in).as("resource " + RESOURCES + name).isNotNull();
            Files.copy(in, out);
        }
        return out;
    }

    /**
     * Writes the resources of this test with the code of the day. Run only on request, into a new
     * folder: {@code mvn -B -o -q -pl fishleg-core test -Dtest=CheckpointCompatibilityTest
     * -Dfishleg.checkpoint.writeResources=/abs/folder}.
     */
    @Test
    @EnabledIfSystemProperty(named = "fishleg.checkpoint.writeResources", matches = ".+")
    void writeResources() throws IOException {
        Path out = Path.of(System.getProperty("fishleg.checkpoint.writeResources"));
        Files.createDirectories(out);
        for (Kind kind : Kind.values()) {
            try (NDManager m = NDManager.newBaseManager()) {
                try (Setup a = setup(m, kind, 5)) {
                    train(a, m, 0, BEFORE);
                    a.opt().save(out.resolve(kind.file()), Map.of("note", NOTE));
                }
                try (Setup b = setup(m, kind, 99)) {
                    b.opt().load(out.resolve(kind.file()));
                    train(b, m, BEFORE, BEFORE + AFTER);
                    b.opt().save(out.resolve(kind.resumedFile()), Map.of("note", NOTE));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aCheckpointOfTheEarlierVersionLoadsAndResumesAsItDidThen(Kind kind) throws IOException {
        Path saved = resource(kind.file());
        Path resumedThen = resource(kind.resumedFile());
        Path now = dir.resolve("now.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            try (Setup s = setup(m, kind, 7)) {
                Map<String, double[]> before = decode(m, now(s, now));
                assertThat(s.opt().load(saved)).containsEntry("note", NOTE);
                assertThat(s.opt().getStepCount()).isEqualTo(BEFORE);
                Map<String, double[]> file = decode(m, saved);
                Map<String, double[]> loaded = decode(m, now(s, now));
                assertThat(loaded.keySet()).containsExactlyElementsOf(file.keySet());
                file.forEach((name, v) -> assertThat(loaded.get(name)).as(name).containsExactly(v));
                assertThat(file.keySet()).anyMatch(name -> !java.util.Arrays.equals(
                        file.get(name), before.get(name))); // the load did change the state

                train(s, m, BEFORE, BEFORE + AFTER);
                Map<String, double[]> then = decode(m, resumedThen);
                Map<String, double[]> resumed = decode(m, now(s, now));
                assertThat(resumed.keySet()).containsExactlyElementsOf(then.keySet());
                then.forEach((name, v) -> assertThat(Dense.relError(resumed.get(name), v))
                        .as(name).isLessThanOrEqualTo(TOLERANCE));

                // The scalar state: that of the run the earlier version resumed.
                try (Setup r = setup(m, kind, 11)) {
                    r.opt().load(resumedThen);
                    assertThat(s.opt().getStepCount()).isEqualTo(BEFORE + AFTER)
                            .isEqualTo(r.opt().getStepCount());
                    assertThat(s.opt().getSkippedSteps()).isEqualTo(r.opt().getSkippedSteps());
                    assertThat(s.opt().getClippedSteps()).isEqualTo(r.opt().getClippedSteps());
                    assertThat(s.opt().getLastClipFactor())
                            .isCloseTo(r.opt().getLastClipFactor(), org.assertj.core.data.Offset.offset(TOLERANCE));
                    if (s.opt() instanceof FishLeg f && r.opt() instanceof FishLeg g) {
                        assertThat(f.getAuxUpdateCount()).isEqualTo(g.getAuxUpdateCount()).isPositive();
                        assertThat(f.getFishLr()).isEqualTo(g.getFishLr());
                    }
                    if (s.opt() instanceof Kfac f && r.opt() instanceof Kfac g) {
                        assertThat(f.getLr()).isEqualTo(g.getLr());
                        for (KroneckerFactoredBlock b : f.getBlocks()) {
                            KroneckerFactoredBlock c = g.getBlock(b.getName());
                            assertThat(b.getFactorUpdates()).isEqualTo(c.getFactorUpdates()).isPositive();
                            assertThat(b.getInversions()).isEqualTo(c.getInversions()).isPositive();
                            assertThat(b.getPi()).isCloseTo(c.getPi(),
                                    org.assertj.core.data.Offset.offset(TOLERANCE * Math.abs(c.getPi())));
                        }
                    }
                }
            }
        }
    }

    /** @return the file, now holding a checkpoint of the setup's state */
    static Path now(Setup s, Path file) throws IOException {
        s.opt().save(file);
        return file;
    }
}
