package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code fishleg bench} end to end on the small CURVES auto-encoder, one round: the JSON holds
 * every number the issue asks for, and the derived ones follow from the measured ones (no timing
 * is asserted: speed is what the command measures, not what a test can check).
 */
class BenchCommandTest {

    @TempDir
    Path dir;

    @Test
    void benchWritesConsistentNumbers() throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        Path json = dir.resolve("b.json");
        int code = Main.execute(new PrintWriter(out, true), new PrintWriter(err, true),
                "bench", "--task", "curves-autoencoder", "--rounds", "1", "--warmup-rounds", "0",
                "--json", json.toString());
        assertThat(code).as(err.toString()).isZero();
        assertThat(out.toString()).contains("Adam", "FishLeg (full Q)", "FishLeg (batchSpeedup)",
                "x floor", "GFLOP/s");
        JsonObject b = JsonParser.parseString(Files.readString(json)).getAsJsonObject();
        double adam = b.get("adam_ms").getAsDouble();
        double fishleg = b.get("fishleg_ms").getAsDouble();
        double speedup = b.get("fishleg_speedup_ms").getAsDouble();
        double qv = b.get("qv_ms").getAsDouble();
        double matmul = b.get("matmul_gflops").getAsDouble();
        assertThat(java.util.List.of(adam, fishleg, speedup, qv, matmul)).allMatch(x -> x > 0);
        assertThat(b.get("fishleg_over_adam").getAsDouble()).isCloseTo(fishleg / adam, within(1e-9));
        assertThat(b.get("fishleg_speedup_over_adam").getAsDouble())
                .isCloseTo(speedup / adam, within(1e-9));
        JsonObject flops = b.getAsJsonObject("flops");
        double qvFlops = flops.get("qv").getAsDouble();
        assertThat(b.get("qv_gflops").getAsDouble()).isCloseTo(qvFlops / (qv * 1e6), within(1e-6));
        double floor = adam + (qvFlops + flops.get("aux_amortised").getAsDouble()) / (matmul * 1e6);
        assertThat(b.get("floor_ms").getAsDouble()).isCloseTo(floor, within(1e-6));
        assertThat(b.get("matmul_gflops").getAsDouble()).isCloseTo(
                2e9 / (b.get("matmul_ms").getAsDouble() * 1e6), within(1e-6));
        // batchSpeedup works on the recorded factors of the CURVES layers that are wider than the
        // batch, so it needs fewer FLOPs than the full Q.
        assertThat(flops.get("speedup_qv").getAsDouble()).isLessThan(qvFlops);
        assertThat(b.getAsJsonObject("raw").getAsJsonArray("fishleg")).hasSize(1);
    }

    @Test
    void badRoundsAreAUsageError() {
        StringWriter err = new StringWriter();
        int code = Main.execute(new PrintWriter(new StringWriter(), true), new PrintWriter(err, true),
                "bench", "--rounds", "0");
        assertThat(code).isEqualTo(2);
        assertThat(err.toString()).contains("--rounds", "0");
    }
}
