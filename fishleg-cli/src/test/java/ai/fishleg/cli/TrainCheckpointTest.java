package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static ai.fishleg.cli.CliTest.summary;
import static ai.fishleg.cli.CliTest.tiny;
import static org.assertj.core.api.Assertions.assertThat;

import ai.fishleg.cli.CliTest.Run;
import ai.fishleg.datasets.Curves;
import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train --save / --save-every / --resume} on tiny generated data (CURVES, 4 steps per epoch):
 * a resumed run continues exactly as the uninterrupted one, and checkpoints that cannot continue a
 * run are refused with exit code 2 and a message saying why.
 */
class TrainCheckpointTest {

    /**
     * FishLeg with auxiliary updates every 3 steps (so the auxiliary data and label sampling are
     * used) and the trust region on; evaluations at step 25 and at the end, so the training-loss
     * mean of a row spans the point where a run was cut.
     */
    private static final String[] RUN = {
        "train", "--optimizer", "fishleg", "--update-aux-every", "3", "--kl-clip", "0.01",
        "--eval-every", "25"
    };

    private static String[] args(String... more) {
        return tiny(Stream.concat(Stream.of(RUN), Stream.of(more)).toArray(String[]::new));
    }

    /** metrics.csv without the wall-clock column. */
    private static List<String> metricsWithoutSeconds(Path dir) throws IOException {
        return Files.readAllLines(dir.resolve(RunFiles.METRICS)).stream()
                .map(l -> {
                    String[] f = l.split(",");
                    f[3] = "";
                    return String.join(",", f);
                })
                .collect(Collectors.toList());
    }

    @Test
    void twentyStepsSavedThenTwentyResumedEndLikeFortySteps(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole");
        Path first = dir.resolve("first");
        Path second = dir.resolve("second");
        Path checkpoint = dir.resolve("c");

        Run w = run(args("--steps", "40", "--out", whole.toString()));
        assertThat(w.code()).as(w.err()).isZero();
        Run a = run(args("--steps", "20", "--save", checkpoint.toString(), "--out", first.toString()));
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.out()).contains("Checkpoint at step 20: " + checkpoint);
        Run b = run(args("--resume", checkpoint.toString(), "--steps", "20", "--out", second.toString()));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("resumed at step 20; training to step 40");

        JsonObject uninterrupted = summary(whole);
        JsonObject resumed = summary(second);
        assertThat(resumed.get("steps").getAsLong()).isEqualTo(40);
        assertThat(resumed.get("resumed_at_step").getAsLong()).isEqualTo(20);
        // the final training loss is the mean over steps 26..40, the same doubles added in the same order
        assertThat(resumed.get("final_train_loss").getAsDouble())
                .isEqualTo(uninterrupted.get("final_train_loss").getAsDouble());
        assertThat(resumed.get("final_test_loss").getAsDouble())
                .isEqualTo(uninterrupted.get("final_test_loss").getAsDouble());
        assertThat(resumed.getAsJsonObject("optimizer_statistics"))
                .isEqualTo(uninterrupted.getAsJsonObject("optimizer_statistics"));
        // the row at step 25 averages steps 1..25, across the cut: the saved accumulators went on
        assertThat(metricsWithoutSeconds(second)).isEqualTo(metricsWithoutSeconds(whole)).hasSize(3);
        // the first half evaluated at its end, as any run does
        assertThat(summary(first).get("steps").getAsLong()).isEqualTo(20);
    }

    @Test
    void saveEveryWritesACheckpointThatResumesInTheMiddleOfAnEpoch(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole");
        Run w = run(args("--steps", "40", "--out", whole.toString()));
        assertThat(w.code()).as(w.err()).isZero();

        // A run that saves every 6 steps; after step 7 the file holds the checkpoint of step 6
        // (in the middle of the second epoch), which we keep as a crashed run would have left it.
        Path checkpoint = dir.resolve("periodic");
        Path atStep6 = dir.resolve("at-step-6");
        Task task = Tasks.get(Tasks.DEFAULT);
        FishLegOptions fishLeg = new FishLegOptions();
        fishLeg.updateAuxEvery = 3;
        fishLeg.klClip = 0.01;
        OptimizerSpec spec = Specs.of(task, OptimizerKind.FISHLEG, fishLeg, new BaselineOptions());
        try (LoadedData data = LoadedData.of(task, Curves.generate(200, 100, Task.CURVES_SEED))) {
            RunContext context = new RunContext("train", task, data.dataset().name(), 200, 100,
                    new Budget(0, 12, 50, 25), task.init(), 0, dir.resolve("periodic-run"));
            TrainingLoop.run(data, spec, context, new Checkpointing(checkpoint, 6, null),
                    new TrainingLoop.Listener() {
                        @Override
                        public void stepped(long step, double runningLoss) {
                            if (step == 7) {
                                copy(checkpoint, atStep6);
                            }
                        }
                    });
        }
        assertThat(atStep6).exists();

        Path resumed = dir.resolve("resumed");
        Run r = run(args("--resume", atStep6.toString(), "--steps", "34", "--out", resumed.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        JsonObject s = summary(resumed);
        assertThat(s.get("resumed_at_step").getAsLong()).isEqualTo(6);
        assertThat(s.get("final_train_loss").getAsDouble())
                .isEqualTo(summary(whole).get("final_train_loss").getAsDouble());
        assertThat(metricsWithoutSeconds(resumed)).isEqualTo(metricsWithoutSeconds(whole));
    }

    private static void copy(Path from, Path to) {
        try {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void checkpointsThatCannotContinueTheRunAreRefusedWithExitCode2(@TempDir Path dir) throws IOException {
        Path checkpoint = dir.resolve("c");
        Run a = run(args("--steps", "2", "--save", checkpoint.toString(), "--out", dir.resolve("a").toString()));
        assertThat(a.code()).as(a.err()).isZero();

        // another run's settings: the seed and FishLeg's step size differ
        Run other = run(args("--resume", checkpoint.toString(), "--steps", "2", "--seed", "1",
                "--fish-lr", "0.01", "--out", dir.resolve("b").toString()));
        assertThat(other.code()).isEqualTo(2);
        assertThat(other.err())
                .contains("--resume " + checkpoint + " was written by a different run")
                .contains("seed (--seed): 0 in the checkpoint, 1 in this run")
                .contains("setting fishLr: 0.003 in the checkpoint, 0.01 in this run");
        assertThat(dir.resolve("b")).doesNotExist();

        // another task's network
        Path idx = CliTest.writeIdxFolder(dir.resolve("idx"));
        Run task = run("train", "--task", "fmnist-mlp", "--data", idx.toString(),
                "--batch-size", "20", "--steps", "1", "--no-progress", "--resume", checkpoint.toString());
        assertThat(task.code()).isEqualTo(2);
        assertThat(task.err()).contains("cannot continue this run (fmnist-mlp) from it")
                .contains("does not match this optimizer and model");

        // not a checkpoint, a truncated one, none at all
        Path garbage = Files.writeString(dir.resolve("garbage"), "not a checkpoint");
        Run g = run(args("--resume", garbage.toString(), "--steps", "1"));
        assertThat(g.code()).isEqualTo(2);
        assertThat(g.err()).contains("is not a FishLeg4J checkpoint");
        byte[] bytes = Files.readAllBytes(checkpoint);
        Path truncated = Files.write(dir.resolve("truncated"), java.util.Arrays.copyOf(bytes, bytes.length - 100));
        Run t = run(args("--resume", truncated.toString(), "--steps", "1"));
        assertThat(t.code()).isEqualTo(2);
        assertThat(t.err()).contains("is truncated");
        Run missing = run(args("--resume", dir.resolve("none").toString(), "--steps", "1"));
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("--resume " + dir.resolve("none") + ": no such checkpoint file");
    }

    @Test
    void adamAndSgdRefuseCheckpointsAndSaveEveryNeedsSave(@TempDir Path dir) {
        for (String optimizer : new String[] {"adam", "sgd"}) {
            Run r = run(tiny("train", "--optimizer", optimizer, "--steps", "1", "--save",
                    dir.resolve("c").toString()));
            assertThat(r.code()).isEqualTo(2);
            assertThat(r.err()).contains("--save and --resume work with --optimizer fishleg, kfac or muon only");
        }
        assertThat(dir.resolve("c")).doesNotExist();
        Run every = run(tiny("train", "--steps", "1", "--save-every", "5"));
        assertThat(every.code()).isEqualTo(2);
        assertThat(every.err()).contains("--save-every 5 needs --save FILE");
    }
}
