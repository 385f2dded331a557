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
 * {@code --optimizer muon} end to end on tiny data: its settings and parameter split in
 * summary.json, a resumed run ending exactly as the uninterrupted one, a bad option refused with
 * one line and exit code 2, and Muon beside Adam in {@code compare}.
 */
class MuonCliTest {

    private static final String[] RUN = {
        "train", "--optimizer", "muon", "--muon-lr", "0.01", "--muon-momentum", "0.9", "--muon-scale",
        "match_adamw", "--muon-adam-lr", "0.002", "--muon-weight-decay", "0.01", "--eval-every", "4"
    };

    private static String[] args(String... more) {
        return tiny(Stream.concat(Stream.of(RUN), Stream.of(more)).toArray(String[]::new));
    }

    @Test
    void trainWritesMuonSettingsAndSplit(@TempDir Path out) throws IOException {
        Run r = run(args("--steps", "5", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("muon: muon-lr 0.01, muon-momentum 0.9, muon-ns-steps 5,"
                + " muon-scale match_adamw, muon-layers hidden, muon-adam-lr 0.002, muon-weight-decay 0.01");
        JsonObject s = summary(out);
        assertThat(s.get("optimizer").getAsString()).isEqualTo("muon");
        JsonObject hp = s.getAsJsonObject("hyperparameters");
        assertThat(hp.get("lr").getAsDouble()).isEqualTo(0.01);
        assertThat(hp.get("stepScale").getAsString()).isEqualTo("match_adamw");
        assertThat(hp.get("adamBeta2").getAsDouble()).isEqualTo(0.95);
        JsonObject stats = s.getAsJsonObject("optimizer_statistics");
        assertThat(stats.get("steps").getAsLong()).isEqualTo(5);
        // the CURVES auto-encoder has 12 Linear layers: the 10 hidden weight matrices get Muon
        assertThat(stats.getAsJsonArray("muonParameters")).hasSize(10);
        assertThat(stats.getAsJsonArray("adamwParameters")).hasSize(14); // 12 biases, first and last weights
        assertThat(s.get("final_test_loss").getAsDouble()).isPositive().isLessThan(1e4);
    }

    @Test
    void savedThenResumedEndsExactlyAsTheUninterruptedRun(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole");
        Path checkpoint = dir.resolve("c");
        Run w = run(args("--steps", "8", "--out", whole.toString()));
        assertThat(w.code()).as(w.err()).isZero();
        Run a = run(args("--steps", "3", "--save", checkpoint.toString(), "--out", dir.resolve("a").toString()));
        assertThat(a.code()).as(a.err()).isZero();
        Run b = run(args("--resume", checkpoint.toString(), "--steps", "5", "--out", dir.resolve("b").toString()));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("resumed at step 3; training to step 8");
        assertThat(summary(dir.resolve("b")).get("final_test_loss").getAsDouble())
                .isEqualTo(summary(whole).get("final_test_loss").getAsDouble());
        assertThat(summary(dir.resolve("b")).get("final_train_loss").getAsDouble())
                .isEqualTo(summary(whole).get("final_train_loss").getAsDouble());
    }

    @Test
    void anUnknownLayerIsOneLineAndExitCode2() {
        Run r = run(tiny("train", "--optimizer", "muon", "--steps", "1", "--muon-layers", "nope"));
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("'nope' is not a weight matrix");
    }

    @Test
    void compareRunsMuonBesideAdam(@TempDir Path out) throws IOException {
        Run r = run(tiny("compare", "--optimizers", "muon,adam", "--steps", "4", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        var runs = summary(out).getAsJsonArray("runs");
        assertThat(runs).hasSize(2);
        assertThat(runs.get(0).getAsJsonObject().get("optimizer").getAsString()).isEqualTo("muon");
    }
}
