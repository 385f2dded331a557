package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static ai.fishleg.cli.CliTest.summary;
import static ai.fishleg.cli.CliTest.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import ai.fishleg.cli.CliTest.Run;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --optimizer kfac} end to end on tiny data (CURVES, 4 steps per epoch): its settings and
 * statistics in summary.json, a resumed run ending exactly as the uninterrupted one, a bad option
 * refused with one line and exit code 2, and K-FAC beside FishLeg and Adam in {@code compare}.
 */
class KfacCliTest {

    /** Statistics every 2 steps and inversions every 3, so both schedules cross the cut at step 5. */
    private static final String[] RUN = {
        "train", "--optimizer", "kfac", "--lr", "0.01", "--damping", "0.1", "--kl-clip", "0.001",
        "--stat-decay", "0.9", "--cov-every", "2", "--inv-every", "3", "--momentum", "0.8",
        "--weight-decay", "1e-4", "--eval-every", "4"
    };

    private static String[] args(String... more) {
        return tiny(Stream.concat(Stream.of(RUN), Stream.of(more)).toArray(String[]::new));
    }

    @Test
    void trainWritesKfacSettingsAndStatistics(@TempDir Path out) throws IOException {
        Run r = run(args("--steps", "7", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("kfac: lr 0.01, damping 0.1, kl-clip 0.001, stat-decay 0.9,"
                + " cov-every 2, inv-every 3, momentum 0.8, weight-decay 0.0001");
        JsonObject s = summary(out);
        assertThat(s.get("optimizer").getAsString()).isEqualTo("kfac");
        JsonObject hp = s.getAsJsonObject("hyperparameters");
        assertThat(hp.get("lr").getAsDouble()).isEqualTo(0.01);
        assertThat(hp.get("damping").getAsDouble()).isEqualTo(0.1);
        assertThat(hp.get("klClip").getAsDouble()).isEqualTo(0.001);
        assertThat(hp.get("statDecay").getAsDouble()).isEqualTo(0.9);
        assertThat(hp.get("covEvery").getAsInt()).isEqualTo(2);
        assertThat(hp.get("invEvery").getAsInt()).isEqualTo(3);
        assertThat(hp.get("momentum").getAsDouble()).isEqualTo(0.8);
        assertThat(hp.get("weightDecay").getAsDouble()).isEqualTo(1e-4);
        assertThat(hp.get("momentumForm").getAsString()).isEqualTo("heavy_ball");
        JsonObject stats = s.getAsJsonObject("optimizer_statistics");
        assertThat(stats.get("steps").getAsLong()).isEqualTo(7);
        assertThat(stats.get("skippedSteps").getAsLong()).isZero();
        assertThat(stats.get("clippedSteps").getAsLong()).isBetween(0L, 7L);
        JsonObject blocks = stats.getAsJsonObject("blocks");
        // the CURVES auto-encoder has 12 Linear layers, each a K-FAC block
        assertThat(blocks.size()).isEqualTo(12);
        for (String name : blocks.keySet()) {
            JsonObject b = blocks.getAsJsonObject(name);
            // steps 0, 2, 4, 6 update the factors; steps 0, 3, 6 invert
            assertThat(b.get("factorUpdates").getAsLong()).as(name).isEqualTo(4);
            assertThat(b.get("inversions").getAsLong()).as(name).isEqualTo(3);
        }
        assertThat(s.get("final_test_loss").getAsDouble()).isPositive().isLessThan(1e4);
        assertThat(s.get("diverged").getAsBoolean()).isFalse();
    }

    @Test
    void savedThenResumedEndsExactlyAsTheUninterruptedRun(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole");
        Path checkpoint = dir.resolve("c");
        Run w = run(args("--steps", "10", "--out", whole.toString()));
        assertThat(w.code()).as(w.err()).isZero();
        Run a = run(args("--steps", "5", "--save", checkpoint.toString(), "--out", dir.resolve("a").toString()));
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.out()).contains("Checkpoint at step 5: " + checkpoint);
        Run b = run(args("--resume", checkpoint.toString(), "--steps", "5", "--out", dir.resolve("b").toString()));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("resumed at step 5; training to step 10");
        JsonObject uninterrupted = summary(whole);
        JsonObject resumed = summary(dir.resolve("b"));
        assertThat(resumed.get("final_test_loss").getAsDouble())
                .isEqualTo(uninterrupted.get("final_test_loss").getAsDouble());
        assertThat(resumed.get("final_train_loss").getAsDouble())
                .isEqualTo(uninterrupted.get("final_train_loss").getAsDouble());
        assertThat(resumed.getAsJsonObject("optimizer_statistics"))
                .isEqualTo(uninterrupted.getAsJsonObject("optimizer_statistics"));
    }

    @Test
    void aBadKfacOptionIsOneLineAndExitCode2() {
        Run r = run(tiny("train", "--optimizer", "kfac", "--steps", "1", "--cov-every", "0"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("--cov-every must be >= 1");
    }

    @Test
    void fisherLabelsReachTheOptimizer(@TempDir Path out) throws IOException {
        Run r = run(args("--steps", "3", "--fisher-labels", "observed", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("fisher-samples 1, fisher-labels observed");
        JsonObject hp = summary(out).getAsJsonObject("hyperparameters");
        assertThat(hp.get("fisherLabels").getAsString()).isEqualTo("observed");
        Run both = run(tiny("train", "--optimizer", "kfac", "--steps", "1", "--fisher-labels",
                "observed", "--fisher-samples", "2"));
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("--fisher-samples 2").contains("--fisher-labels observed");
    }

    @Test
    void compareRunsFishLegKfacAndAdam(@TempDir Path out) throws IOException {
        Run r = run(tiny("compare", "--optimizers", "fishleg,kfac,adam", "--steps", "4", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("kfac: lr 0.001, damping 0.03"); // the curves preset
        var runs = summary(out).getAsJsonArray("runs");
        assertThat(runs).hasSize(3);
        assertThat(runs.get(1).getAsJsonObject().get("optimizer").getAsString()).isEqualTo("kfac");
        for (var run : runs) {
            assertThat(run.getAsJsonObject().get("final_test_loss").getAsDouble()).isPositive();
        }
    }
}
