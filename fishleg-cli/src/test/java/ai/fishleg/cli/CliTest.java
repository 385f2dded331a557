package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.core.Prelu;
import ai.fishleg.datasets.IdxFile;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line end to end on tiny data: generated CURVES images and a generated MNIST-format
 * folder. Each run takes a few optimizer steps.
 */
class CliTest {

    /** A few CURVES images, few steps: 4 steps per epoch with batch 50. */
    private static final String[] TINY_CURVES = {
        "--train-size", "200", "--test-size", "100", "--batch-size", "50", "--no-progress"
    };

    @TempDir
    static Path classTemp; // one temporary folder for the whole class

    static Path idxFolder;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    /** The arguments followed by the tiny CURVES options. */
    static String[] tiny(String... args) {
        String[] out = new String[args.length + TINY_CURVES.length];
        System.arraycopy(args, 0, out, 0, args.length);
        System.arraycopy(TINY_CURVES, 0, out, args.length, TINY_CURVES.length);
        return out;
    }

    static JsonObject summary(Path dir) throws IOException {
        return JsonParser.parseString(Files.readString(dir.resolve("summary.json"))).getAsJsonObject();
    }

    static void assertPng(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        assertThat(b.length).as(file.toString()).isGreaterThan(1000);
        assertThat(new byte[] {b[1], b[2], b[3]}).isEqualTo("PNG".getBytes());
    }

    @BeforeAll
    static void writeIdxFolder() throws IOException {
        idxFolder = writeIdxFolder(classTemp.resolve("idx"));
    }

    /**
     * @param dir the folder to create
     * @return an MNIST-format folder of 120 training and 40 test images whose class shows in the pixels
     */
    static Path writeIdxFolder(Path dir) throws IOException {
        Path idxFolder = Files.createDirectories(dir);
        for (String split : new String[] {"train", "t10k"}) {
            int n = split.equals("train") ? 120 : 40;
            int[] pixels = new int[n * 784];
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = (i * 7) % 10;
                for (int k = 0; k < 784; k++) {
                    // a bright band whose rows depend on the class, plus a little texture
                    int row = k / 28;
                    pixels[i * 784 + k] = (row / 3 == labels[i] ? 200 : 0) + (i * 31 + k * 17) % 40;
                }
            }
            IdxFile.write(idxFolder.resolve(split + "-images-idx3-ubyte.gz"), new int[] {n, 28, 28}, pixels);
            IdxFile.write(idxFolder.resolve(split + "-labels-idx1-ubyte.gz"), new int[] {n}, labels);
        }
        return idxFolder;
    }

    @Test
    void trainFishLegWritesMetricsSummaryAndPlots(@TempDir Path out) throws IOException {
        Run r = run(tiny("train", "--task", "curves-autoencoder", "--optimizer", "fishleg",
                "--steps", "6", "--fish-lr", "0.01", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("fishleg: fish-lr 0.01").contains("Summary");

        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        assertThat(csv.get(0)).isEqualTo("optimizer,epoch,step,seconds,train_loss,test_loss");
        // evaluations after each epoch (4 steps) and at the end (6 steps)
        assertThat(csv).hasSize(3);
        assertThat(csv.get(1)).startsWith("fishleg,1.0000,4,");
        assertThat(csv.get(2)).startsWith("fishleg,1.5000,6,");

        JsonObject s = summary(out);
        assertThat(s.get("task").getAsString()).isEqualTo("curves-autoencoder");
        assertThat(s.get("optimizer").getAsString()).isEqualTo("fishleg");
        assertThat(s.get("steps").getAsLong()).isEqualTo(6);
        assertThat(s.get("epochs").getAsDouble()).isEqualTo(1.5);
        assertThat(s.get("batch_size").getAsInt()).isEqualTo(50);
        assertThat(s.get("train_seconds").getAsDouble()).isPositive();
        JsonObject hp = s.getAsJsonObject("hyperparameters");
        assertThat(hp.get("fishLr").getAsDouble()).isEqualTo(0.01);
        assertThat(hp.get("damping").getAsDouble()).isEqualTo(0.03); // the preset, not the library default
        assertThat(hp.get("kroneckerStart").getAsInt()).isEqualTo(3);
        double finalTest = s.get("final_test_loss").getAsDouble();
        assertThat(finalTest).isPositive().isLessThan(1e4);
        assertThat(csv.get(2)).endsWith(String.format(java.util.Locale.ROOT, "%.6f", finalTest));
        assertThat(s.has("final_accuracy")).isFalse();
        assertThat(s.get("diverged").getAsBoolean()).isFalse();
        assertPng(out.resolve("loss_vs_epoch.png"));
        assertPng(out.resolve("loss_vs_seconds.png"));
    }

    @Test
    void batchSpeedupIsAnOptionThatReachesFishLegsSettings(@TempDir Path out) throws IOException {
        Run on = run(tiny("train", "--optimizer", "fishleg", "--steps", "2",
                "--out", out.resolve("on").toString()));
        Run off = run(tiny("train", "--optimizer", "fishleg", "--steps", "2", "--no-batch-speedup",
                "--out", out.resolve("off").toString()));
        assertThat(on.code()).as(on.err()).isZero();
        assertThat(off.code()).as(off.err()).isZero();
        assertThat(summary(out.resolve("on")).getAsJsonObject("hyperparameters")
                .get("batchSpeedup").getAsBoolean()).isTrue(); // the preset's
        assertThat(summary(out.resolve("off")).getAsJsonObject("hyperparameters")
                .get("batchSpeedup").getAsBoolean()).isFalse();
    }

    @Test
    void kroneckerStartAndMomentumFormAreOptionsThatReachFishLegsSettings(@TempDir Path out)
            throws IOException {
        Run r = run(tiny("train", "--optimizer", "fishleg", "--steps", "3", "--kronecker-start", "2",
                "--kronecker-every", "2", "--momentum-form", "heavy_ball", "--fish-lr", "0.001",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("kronecker-start 2, kronecker-every 2, momentum-form heavy_ball");
        JsonObject hp = summary(out).getAsJsonObject("hyperparameters");
        assertThat(hp.get("kroneckerStart").getAsInt()).isEqualTo(2);
        assertThat(hp.get("kroneckerEvery").getAsInt()).isEqualTo(2);
        assertThat(hp.get("momentumForm").getAsString()).isEqualTo("heavy_ball");
        assertThat(summary(out).get("final_test_loss").getAsDouble()).isFinite();

        Run bad = run(tiny("train", "--optimizer", "fishleg", "--steps", "1", "--kronecker-every",
                "5", "--kronecker-start", "0", "--out", out.resolve("bad").toString()));
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("kroneckerEvery").contains("kroneckerStart > 0");
    }

    @Test
    void kroneckerLabelsAndIdentityStartAreOptionsThatReachFishLegsSettings(@TempDir Path out)
            throws IOException {
        Run r = run(tiny("train", "--optimizer", "fishleg", "--steps", "2", "--kronecker-labels",
                "observed", "--kronecker-identity-decay", "0.95", "--kronecker-identity-every", "10",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("kronecker-labels observed, kronecker-identity-decay 0.95,"
                + " kronecker-identity-every 10");
        JsonObject hp = summary(out).getAsJsonObject("hyperparameters");
        assertThat(hp.get("kroneckerLabels").getAsString()).isEqualTo("observed");
        assertThat(hp.get("kroneckerIdentityDecay").getAsDouble()).isEqualTo(0.95);
        assertThat(hp.get("kroneckerIdentityEvery").getAsInt()).isEqualTo(10);
        assertThat(summary(out).get("final_test_loss").getAsDouble()).isFinite();

        Run bad = run(tiny("train", "--optimizer", "fishleg", "--steps", "1",
                "--kronecker-identity-decay", "1", "--out", out.resolve("bad").toString()));
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("kroneckerIdentityStart").contains("[0, 1)");
    }

    @Test
    void compareStartsEveryOptimizerFromTheSameWeightsAndBatches(@TempDir Path out) throws IOException {
        Path alone = out.resolve("adam-alone");
        Path both = out.resolve("compare");
        Run single = run(tiny("train", "--optimizer", "adam", "--lr", "0.002",
                "--steps", "5", "--out", alone.toString()));
        assertThat(single.code()).as(single.err()).isZero();
        Run r = run(tiny("compare", "--optimizers", "sgd,adam,fishleg", "--lr", "0.002",
                "--steps", "5", "--out", both.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("Test loss by optimizer");

        JsonObject s = summary(both);
        assertThat(s.get("command").getAsString()).isEqualTo("compare");
        JsonArray runs = s.getAsJsonArray("runs");
        assertThat(runs).hasSize(3);
        assertThat(runs.get(0).getAsJsonObject().get("optimizer").getAsString()).isEqualTo("sgd");
        JsonObject adam = runs.get(1).getAsJsonObject();
        assertThat(adam.getAsJsonObject("hyperparameters").get("lr").getAsDouble()).isEqualTo(0.002);
        // Adam after SGD in one process ends where Adam alone ends: same initial weights, same
        // batches, nothing carried over from the previous optimizer.
        assertThat(adam.get("final_test_loss").getAsDouble())
                .isCloseTo(summary(alone).get("final_test_loss").getAsDouble(), within(1e-4));
        assertThat(adam.get("final_train_loss").getAsDouble())
                .isCloseTo(summary(alone).get("final_train_loss").getAsDouble(), within(1e-4));

        List<String> csv = Files.readAllLines(both.resolve("metrics.csv"));
        assertThat(csv.stream().skip(1).map(l -> l.split(",")[0]).distinct())
                .containsExactly("sgd", "adam", "fishleg");
        assertPng(both.resolve("loss_vs_epoch.png"));
        assertPng(both.resolve("loss_vs_seconds.png"));
    }

    @Test
    void demoComparesFishLegWithAdamAndPrintsATable(@TempDir Path out) throws IOException {
        Run r = run(tiny("demo", "--epochs", "1", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("curves-autoencoder").contains("Test loss by optimizer").contains("Summary");
        JsonObject s = summary(out);
        assertThat(s.get("command").getAsString()).isEqualTo("demo");
        assertThat(s.getAsJsonArray("optimizers").toString()).isEqualTo("[\"fishleg\",\"adam\"]");
        for (var run : s.getAsJsonArray("runs")) {
            assertThat(run.getAsJsonObject().get("steps").getAsLong()).isEqualTo(4);
            assertThat(run.getAsJsonObject().get("final_test_loss").getAsDouble()).isPositive();
        }
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).hasSize(3);
    }

    @Test
    void classifierOnAnIdxFolderReportsAccuracy(@TempDir Path out) throws IOException {
        Run r = run("train", "--task", "fmnist-mlp", "--optimizer", "adam", "--data", idxFolder.toString(),
                "--epochs", "3", "--batch-size", "20", "--no-progress", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        List<String> csv = Files.readAllLines(out.resolve("metrics.csv"));
        assertThat(csv.get(0)).endsWith(",accuracy");
        assertThat(csv).hasSize(4);
        JsonObject s = summary(out);
        assertThat(s.get("train_examples").getAsLong()).isEqualTo(120);
        assertThat(s.get("test_examples").getAsLong()).isEqualTo(40);
        // the class is written in the pixels, so 18 steps of Adam learn it far beyond chance (0.1)
        assertThat(s.get("final_accuracy").getAsDouble()).isGreaterThan(0.5).isLessThanOrEqualTo(1.0);
        assertPng(out.resolve("accuracy_vs_epoch.png"));
    }

    @Test
    void cnnComparesEveryOptimizerOnAnIdxFolder(@TempDir Path out) throws IOException {
        Run r = run("compare", "--task", "fmnist-cnn", "--optimizers", "fishleg,kfac,adam,sgd",
                "--data", idxFolder.toString(), "--steps", "3", "--batch-size", "20", "--no-progress",
                "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        for (var run : summary(out).getAsJsonArray("runs")) {
            JsonObject o = run.getAsJsonObject();
            assertThat(o.get("steps").getAsLong()).isEqualTo(3);
            assertThat(o.get("final_accuracy").getAsDouble()).isBetween(0.0, 1.0);
            assertThat(o.get("final_test_loss").getAsDouble()).isPositive();
            if (o.get("optimizer").getAsString().equals("kfac")) {
                // both convolutions (RecordingConv2d) and the Linear layer are K-FAC blocks
                assertThat(o.getAsJsonObject("optimizer_statistics").getAsJsonObject("blocks").keySet())
                        .containsExactly("01RecordingConv2d", "05RecordingConv2d", "10RecordingLinear");
            }
        }
        assertPng(out.resolve("accuracy_vs_epoch.png"));
    }

    @Test
    void fishLegIsRefusedForANetworkWithLayersItCannotManage() {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(4).build())
                .add(new Prelu());
        assertThatThrownBy(() -> Experiment.requireFishLegSupport("some-task", model))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("FishLeg is not available for some-task yet")
                .hasMessageContaining("Prelu")
                .hasMessageContaining("--optimizer adam");
        SequentialBlock supported = new SequentialBlock().add(Linear.builder().setUnits(4).build());
        Experiment.requireFishLegSupport("some-task", supported); // no exception
    }

    @Test
    void layersListsEveryManagedLayerWithItsQSize() {
        Run r = run("layers", "--task", "fmnist-autoencoder");
        assertThat(r.code()).as(r.err()).isZero();
        // 784-1000-500-250-30-250-500-1000-784: weights plus biases of each layer
        int[] widths = {784, 1000, 500, 250, 30, 250, 500, 1000, 784};
        long total = 0;
        for (int i = 0; i + 1 < widths.length; i++) {
            long p = (long) widths[i + 1] * (widths[i] + 1);
            total += p;
            assertThat(r.out()).contains(String.format(java.util.Locale.ROOT, "%,d x %,d", p, p));
            // Kronecker factors L (in+1)², R out², A out x (in+1)
            assertThat(r.out()).contains(String.format("L %dx%d, R %dx%d, A %dx%d", widths[i] + 1,
                    widths[i] + 1, widths[i + 1], widths[i + 1], widths[i + 1], widths[i] + 1));
        }
        assertThat(r.out()).contains(String.format(java.util.Locale.ROOT, "manages 8 layer(s): %,d parameters", total));
        assertThat(r.out()).contains("Every trainable parameter of the network is managed.");
    }

    @Test
    void divergenceStopsTheRunAndIsReported(@TempDir Path out) throws IOException {
        Run r = run(tiny("train", "--optimizer", "sgd", "--lr", "1e12", "--steps", "8",
                "--out", out.toString()));
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).contains("DIVERGED");
        JsonObject s = summary(out);
        assertThat(s.get("diverged").getAsBoolean()).isTrue();
        assertThat(s.get("diverged_at_step").getAsLong()).isBetween(1L, 8L);
        assertThat(s.get("steps").getAsLong()).isEqualTo(s.get("diverged_at_step").getAsLong());
        assertThat(s.get("divergence").getAsString()).contains("training loss");
    }

    @Test
    void fishLegRefusingANonFiniteStepEndsTheRunAsDivergedUnlessKlClipBoundsIt(@TempDir Path out) throws IOException {
        // without the trust region (--kl-clip 0) a step of size 1e38 overflows
        Run r = run(tiny("train", "--optimizer", "fishleg", "--fish-lr", "1e38", "--kl-clip", "0",
                "--steps", "4", "--out", out.resolve("unclipped").toString()));
        assertThat(r.code()).isEqualTo(1);
        JsonObject s = summary(out.resolve("unclipped"));
        assertThat(s.get("diverged").getAsBoolean()).isTrue();
        assertThat(s.get("divergence").getAsString()).isNotBlank();
        assertThat(s.get("diverged_at_step").getAsLong()).isBetween(1L, 4L);

        // the preset's klClip bounds the same steps: the run stays finite and says it clipped them
        // (without weight decay: the preset's heavy-ball step adds wd·θ after the clip, which a
        // step size of 1e38 would overflow)
        Run clipped = run(tiny("train", "--optimizer", "fishleg", "--fish-lr", "1e38", "--steps", "4",
                "--fish-weight-decay", "0", "--out", out.resolve("clipped").toString()));
        assertThat(clipped.code()).as(clipped.out()).isZero();
        JsonObject c = summary(out.resolve("clipped"));
        assertThat(c.getAsJsonObject("hyperparameters").get("klClip").getAsDouble()).isPositive();
        assertThat(c.get("final_test_loss").getAsDouble()).isPositive().isLessThan(1e4);
        assertThat(c.getAsJsonObject("optimizer_statistics").get("clippedSteps").getAsLong()).isEqualTo(4);
    }

    @Test
    void badInputGetsAClearMessageAndExitCode2() {
        Path missing = classTemp.resolve("no-such-folder");
        Run data = run("train", "--task", "fmnist-mlp", "--data", missing.toString(), "--steps", "1");
        assertThat(data.code()).isEqualTo(2);
        assertThat(data.err()).contains(missing + ": data folder not found");

        Run both = run("train", "--epochs", "1", "--steps", "3");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");

        Run task = run("compare", "--task", "cifar10");
        assertThat(task.code()).isEqualTo(2);
        assertThat(task.err()).contains("unknown task 'cifar10'").contains("fmnist-autoencoder");

        Run optimizer = run("train", "--optimizer", "lbfgs");
        assertThat(optimizer.code()).isEqualTo(2);
        assertThat(optimizer.err()).contains("lbfgs").contains("fishleg, kfac, adam, sgd");

        Run curvesData = run(tiny("train", "--data", classTemp.toString(), "--steps", "1"));
        assertThat(curvesData.code()).isEqualTo(2);
        assertThat(curvesData.err()).contains("--data is not used");

        Run batch = run("train", "--train-size", "200", "--batch-size", "500", "--steps", "1");
        assertThat(batch.code()).isEqualTo(2);
        assertThat(batch.err()).contains("--batch-size 500 is larger than the 200 training examples");
    }
}
