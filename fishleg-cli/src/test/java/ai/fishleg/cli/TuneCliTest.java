package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static ai.fishleg.cli.CliTest.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import ai.fishleg.cli.CliTest.Run;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fishleg tune} end to end on tiny data: every trial is the run {@code train} makes with
 * the same settings, the best is the one with the lowest final test loss, the files are written,
 * and running it again reruns nothing.
 */
class TuneCliTest {

    static JsonObject json(Path dir) throws IOException {
        return JsonParser.parseString(Files.readString(dir.resolve("tune.json"))).getAsJsonObject();
    }

    @Test
    void trialsAreTrainRunsAndTheBestIsTheLowest(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("tune");
        Run r = run(tiny("tune", "--optimizer", "adam", "--lrs", "0.0005,0.004", "--steps", "4", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        JsonObject t = json(out);
        var trials = t.getAsJsonArray("trials");
        assertThat(trials).hasSize(2);
        double lowest = Double.POSITIVE_INFINITY;
        for (int i = 0; i < 2; i++) {
            JsonObject trial = trials.get(i).getAsJsonObject();
            double lr = trial.getAsJsonObject("settings").get("lr").getAsDouble();
            // the same run as train with --lr
            Path single = dir.resolve("train" + i);
            Run tr = run(tiny("train", "--optimizer", "adam", "--lr", Double.toString(lr), "--steps", "4",
                    "--out", single.toString()));
            assertThat(tr.code()).as(tr.err()).isZero();
            assertThat(trial.get("final_test_loss").getAsDouble())
                    .isEqualTo(CliTest.summary(single).get("final_test_loss").getAsDouble());
            lowest = Math.min(lowest, trial.get("final_test_loss").getAsDouble());
        }
        assertThat(t.getAsJsonObject("best").get("final_test_loss").getAsDouble()).isEqualTo(lowest);
        assertThat(Files.readAllLines(out.resolve("tune.csv"))).hasSize(3);
        CliTest.assertPng(out.resolve("tune.png"));

        Run again = run(tiny("tune", "--optimizer", "adam", "--lrs", "0.0005,0.004", "--steps", "4", "--out", out.toString()));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains("2 done before, not run again").doesNotContain("adam: lr");
    }

    @Test
    void anotherSweepInTheSameFolderIsRefused(@TempDir Path dir) {
        Path out = dir.resolve("tune");
        assertThat(run(tiny("tune", "--lrs", "0.001", "--steps", "2", "--out", out.toString())).code()).isZero();
        Run r = run(tiny("tune", "--lrs", "0.001", "--steps", "3", "--out", out.toString()));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("another steps");
    }

    @Test
    void dampingsAreForFishLegAndKfacOnly() {
        Run r = run(tiny("tune", "--optimizer", "adam", "--dampings", "0.1", "--steps", "1"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--dampings is for --optimizer fishleg or kfac");
    }
}
