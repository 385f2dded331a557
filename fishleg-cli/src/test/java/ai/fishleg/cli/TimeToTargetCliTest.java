package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static ai.fishleg.cli.CliTest.summary;
import static ai.fishleg.cli.CliTest.tiny;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.fishleg.cli.CliTest.Run;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --target-loss} and {@code --time-limit} end to end on tiny CURVES runs (4 steps per epoch):
 * the time-to-target fields agree with the rows of metrics.csv, and runs stopped by their budget are
 * marked as such, not as diverged.
 */
class TimeToTargetCliTest {

    /** The rows of metrics.csv of one optimizer: step, seconds, test loss. */
    private static List<double[]> rows(Path dir, String optimizer) throws IOException {
        return Files.readAllLines(dir.resolve(RunFiles.METRICS)).stream().skip(1)
                .map(l -> l.split(","))
                .filter(f -> f[0].equals(optimizer))
                .map(f -> new double[] {Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[5])})
                .toList();
    }

    @Test
    void compareReportsEachOptimizersTimeToAdamsFinalLoss(@TempDir Path out) throws IOException {
        Run r = run(tiny("compare", "--optimizers", "fishleg,adam", "--steps", "10", "--eval-every", "2",
                "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("target_loss").contains("s_to_target").contains("steps_to_target")
                .contains("Adam's final test loss");

        JsonObject s = summary(out);
        JsonObject fishLeg = s.getAsJsonArray("runs").get(0).getAsJsonObject();
        JsonObject adam = s.getAsJsonArray("runs").get(1).getAsJsonObject();
        double target = adam.get("final_test_loss").getAsDouble();
        for (JsonObject run : List.of(fishLeg, adam)) {
            String name = run.get("optimizer").getAsString();
            assertThat(run.get("target_loss").getAsDouble()).as(name).isEqualTo(target);
            assertThat(run.get("stopped").isJsonNull()).as(name).isTrue();
            List<double[]> rows = rows(out, name);
            int first = -1;
            for (int i = 0; i < rows.size() && first < 0; i++) {
                // metrics.csv rounds the loss to 6 decimals
                first = rows.get(i)[2] <= target + 1e-6 ? i : -1;
            }
            if (first < 0) {
                assertThat(run.get("seconds_to_target").isJsonNull()).as(name).isTrue();
                assertThat(run.get("steps_to_target").isJsonNull()).as(name).isTrue();
                continue;
            }
            // between the first evaluation at or below the target and the one before it
            double steps = run.get("steps_to_target").getAsDouble();
            double seconds = run.get("seconds_to_target").getAsDouble();
            double[] at = rows.get(first);
            double[] before = first == 0 ? at : rows.get(first - 1);
            assertThat(steps).as(name).isBetween(before[0], at[0]);
            assertThat(seconds).as(name).isBetween(before[1] - 1e-3, at[1] + 1e-3);
            if (first > 0) {
                // the interpolation: the fraction of the way in steps is the fraction of the way in loss
                double f = (before[2] - target) / (before[2] - at[2]);
                assertThat((steps - before[0]) / (at[0] - before[0])).as(name).isCloseTo(f, within(1e-4));
            }
        }
        // Adam reaches its own final loss at the latest at its last evaluation
        assertThat(adam.get("steps_to_target").getAsDouble()).isLessThanOrEqualTo(10);
    }

    @Test
    void anExplicitTargetIsReachedAtTheFirstEvaluationOrNever(@TempDir Path out) throws IOException {
        Run high = run(tiny("compare", "--optimizers", "adam,sgd", "--steps", "4", "--eval-every", "2",
                "--target-loss", "1e9", "--out", out.resolve("high").toString()));
        assertThat(high.code()).as(high.err()).isZero();
        assertThat(high.out()).contains("Target  test loss 1000000000.0000 (the --target-loss)");
        for (var run : summary(out.resolve("high")).getAsJsonArray("runs")) {
            JsonObject o = run.getAsJsonObject();
            double[] first = rows(out.resolve("high"), o.get("optimizer").getAsString()).get(0);
            assertThat(o.get("target_loss").getAsDouble()).isEqualTo(1e9);
            assertThat(o.get("steps_to_target").getAsDouble()).isEqualTo(2);
            assertThat(o.get("seconds_to_target").getAsDouble()).isCloseTo(first[1], within(1e-3));
            assertThat(o.get("steps").getAsLong()).isEqualTo(4); // compare does not stop at the target
        }

        Run low = run(tiny("train", "--optimizer", "adam", "--steps", "4", "--target-loss", "-1e9",
                "--out", out.resolve("low").toString()));
        assertThat(low.code()).as(low.err()).isZero();
        JsonObject s = summary(out.resolve("low"));
        assertThat(s.get("target_loss").getAsDouble()).isEqualTo(-1e9);
        assertThat(s.get("seconds_to_target").isJsonNull()).isTrue();
        assertThat(s.get("steps_to_target").isJsonNull()).isTrue();
        assertThat(s.get("steps").getAsLong()).isEqualTo(4);
    }

    @Test
    void trainStopsAtTheFirstEvaluationThatReachesTheTarget(@TempDir Path out) throws IOException {
        Run r = run(tiny("train", "--optimizer", "adam", "--steps", "40", "--eval-every", "3",
                "--target-loss", "1e9", "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("reached --target-loss at step 3");
        JsonObject s = summary(out);
        assertThat(s.get("steps").getAsLong()).isEqualTo(3);
        assertThat(s.get("stopped").getAsString()).isEqualTo("target_reached");
        assertThat(s.get("diverged").getAsBoolean()).isFalse();
        assertThat(s.get("steps_to_target").getAsDouble()).isEqualTo(3);
    }

    @Test
    void aTimeLimitStopsEachRunAndMarksItAsStoppedNotDiverged(@TempDir Path out) throws IOException {
        double limit = 0.3;
        Run r = run(tiny("compare", "--optimizers", "adam,fishleg", "--steps", "1000000",
                "--time-limit", Double.toString(limit), "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("stopped by --time-limit");
        for (var run : summary(out).getAsJsonArray("runs")) {
            JsonObject o = run.getAsJsonObject();
            String name = o.get("optimizer").getAsString();
            assertThat(o.get("stopped").getAsString()).as(name).isEqualTo("time_limit");
            assertThat(o.get("diverged").getAsBoolean()).as(name).isFalse();
            long steps = o.get("steps").getAsLong();
            assertThat(steps).as(name).isPositive().isLessThan(1000000);
            assertThat(o.get("train_seconds").getAsDouble()).as(name).isGreaterThanOrEqualTo(limit);
            // evaluated where it stopped
            List<double[]> rows = rows(out, name);
            assertThat(rows.get(rows.size() - 1)[0]).as(name).isEqualTo(steps);
        }
    }

    @Test
    void theDemoSentenceSaysHowMuchSoonerOrThatItWasNot() {
        RunResult fishLeg = result(OptimizerKind.FISHLEG, new double[][] {{10, 1, 8}, {20, 2, 4}});
        RunResult adam = result(OptimizerKind.ADAM, new double[][] {{10, 1.5, 9}, {20, 3, 6}, {30, 4.5, 5}});
        String what = "Adam's final test loss";
        // FishLeg: 8 → 4 crosses 5 three quarters of the way, at 1.75 s; Adam at its end, 4.5 s
        assertThat(Report.soonerLine(List.of(fishLeg.withTarget(5), adam.withTarget(5)),
                OptimizerKind.FISHLEG, OptimizerKind.ADAM, what))
                .isEqualTo("FishLeg reached Adam's final test loss 5.00 in 1.8 s, Adam in 4.5 s: 2.57x sooner.");
        // the other way round, at 6: Adam reaches it at its second evaluation, 3 s; FishLeg half way, 1.5 s
        assertThat(Report.soonerLine(List.of(adam.withTarget(6), fishLeg.withTarget(6)),
                OptimizerKind.ADAM, OptimizerKind.FISHLEG, "FishLeg's test loss"))
                .isEqualTo("Adam reached FishLeg's test loss 6.00 in 3.0 s, FishLeg in 1.5 s: not sooner (2.00x the time).");
        assertThat(Report.soonerLine(List.of(fishLeg.withTarget(3), adam.withTarget(3)),
                OptimizerKind.FISHLEG, OptimizerKind.ADAM, what))
                .isEqualTo("FishLeg did not reach Adam's final test loss 3.00 in its 20 steps (2.0 s).");
    }

    /** A run with the given evaluations (step, seconds, test loss). */
    private static RunResult result(OptimizerKind kind, double[][] evaluations) {
        List<MetricsRow> rows = java.util.Arrays.stream(evaluations)
                .map(e -> new MetricsRow(kind.label(), e[0] / 10, (long) e[0], e[1], Double.NaN, e[2], Double.NaN))
                .toList();
        MetricsRow last = rows.get(rows.size() - 1);
        return new RunResult(kind, Map.of(), Map.of(), rows, last.step(), last.epoch(), last.seconds(), -1, null, -1,
                null, null, null);
    }
}
