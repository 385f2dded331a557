package ai.fishleg.cli;

import static ai.fishleg.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.DataInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code fishleg prune} end to end on a generated MNIST-format folder (a few steps). */
class PruneCliTest {

    @TempDir
    Path temp;

    @Test
    void pruneWritesEveryMethodSparsityAndModeWithTheRequestedSparsity() throws Exception {
        Path idx = CliTest.writeIdxFolder(temp.resolve("idx"));
        Path out = temp.resolve("out");
        CliTest.Run r = run("prune", "--task", "fmnist-mlp", "--data", idx.toString(), "--train-epochs", "1",
                "--batch-size", "40", "--sparsities", "0.8", "--gradual", "2", "--fine-tune-epochs", "1",
                "--refine-steps", "2", "--calibration-batches", "2", "--out", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonArray results = CliTest.summary(out).getAsJsonArray("results");
        // the dense network, then 3 methods x (one-shot, gradual) x (as pruned, fine-tuned)
        assertThat(results).hasSize(1 + 3 * 2 * 2);
        for (int i = 1; i < results.size(); i++) {
            JsonObject o = results.get(i).getAsJsonObject();
            assertThat(o.get("measured_sparsity").getAsDouble())
                    .isCloseTo(o.get("sparsity").getAsDouble(), within(1e-4));
            assertThat(o.get("test_accuracy").getAsDouble()).isBetween(0.0, 1.0);
        }
        CliTest.assertPng(out.resolve("accuracy_vs_sparsity.png"));
        assertThat(Files.readAllLines(out.resolve("results.csv"))).hasSize(2 + 12);

        // the saved weights load into the task's network and have the measured sparsity
        Task task = Tasks.get("fmnist-mlp");
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = task.newModel();
            ModelInit.initialize(net, m, DataType.FLOAT32, task.inputShape(1), task.init(), 1);
            try (DataInputStream in = new DataInputStream(
                    Files.newInputStream(out.resolve("weights/fishleg-0.80-one-shot-fine-tuned.params")))) {
                net.loadParameters(m, in);
            }
            long zeros = 0;
            long weights = 0;
            for (Pair<String, Parameter> p : net.getParameters()) {
                if (p.getKey().endsWith("weight")) {
                    NDArray w = p.getValue().getArray();
                    zeros += w.size() - w.countNonzero().getLong();
                    weights += w.size();
                }
            }
            assertThat((double) zeros / weights).isCloseTo(0.8, within(1e-4));
        }

        // a checkpoint of another task, and bad input, get clear errors
        CliTest.Run other = run("prune", "--task", "fmnist-cnn", "--data", idx.toString(), "--batch-size", "40",
                "--from", out.resolve("dense.ckpt").toString(), "--out", temp.resolve("other").toString());
        assertThat(other.code()).isEqualTo(2);
        assertThat(other.err()).contains("a checkpoint of task fmnist-mlp, not of fmnist-cnn");
        CliTest.Run bad = run("prune", "--task", "fmnist-mlp", "--sparsities", "0.5,1", "--data", idx.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err()).contains("a sparsity must be in [0, 1)");
        CliTest.Run negative = run("prune", "--task", "fmnist-mlp", "--bn-batches", "-1", "--data", idx.toString());
        assertThat(negative.code()).isEqualTo(2);
        assertThat(negative.err()).contains("--bn-batches must be >= 0");
        CliTest.Run missing = run("prune", "--task", "fmnist-mlp", "--from", temp.resolve("no.ckpt").toString(),
                "--data", idx.toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("no such checkpoint file");
    }
    @Test
    void fineTuneLrSetsTheFineTunesStepSize() throws Exception {
        Path idx = CliTest.writeIdxFolder(temp.resolve("idx"));
        String[] common = {"prune", "--task", "fmnist-mlp", "--data", idx.toString(), "--batch-size", "40",
            "--sparsities", "0.8", "--methods", "magnitude", "--fine-tune-epochs", "2", "--no-save-weights"};
        Path trained = temp.resolve("trained");
        CliTest.Run r = run(concat(common, "--train-epochs", "1", "--out", trained.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        String dense = trained.resolve("dense.ckpt").toString();
        // the default is the checkpoint's step size, the preset's 0.01 that trained it
        JsonObject byDefault = CliTest.summary(trained);
        assertThat(byDefault.get("fine_tune_lr").getAsDouble()).isEqualTo(0.01);
        Path same = temp.resolve("same");
        assertThat(run(concat(common, "--from", dense, "--fine-tune-lr", "0.01", "--out", same.toString())).code())
                .isZero();
        Path tiny = temp.resolve("tiny");
        assertThat(run(concat(common, "--from", dense, "--fine-tune-lr", "1e-9", "--out", tiny.toString())).code())
                .isZero();
        assertThat(CliTest.summary(tiny).get("fine_tune_lr").getAsDouble()).isEqualTo(1e-9);

        // rows: dense, pruned, pruned and fine-tuned
        double pruned = testLoss(byDefault, 1);
        assertThat(testLoss(CliTest.summary(same), 2)).isEqualTo(testLoss(byDefault, 2));
        assertThat(Math.abs(testLoss(byDefault, 2) - pruned)).isGreaterThan(1e-3);
        // steps of size 1e-9 leave the pruned network (almost) where it was
        assertThat(testLoss(CliTest.summary(tiny), 1)).isEqualTo(pruned);
        assertThat(testLoss(CliTest.summary(tiny), 2)).isCloseTo(pruned, within(1e-5));

        CliTest.Run zero = run(concat(common, "--from", dense, "--fine-tune-lr", "0"));
        assertThat(zero.code()).isEqualTo(2);
        assertThat(zero.err()).contains("--fine-tune-lr must be a finite number > 0");
        CliTest.Run noFineTune = run("prune", "--task", "fmnist-mlp", "--data", idx.toString(), "--from", dense,
                "--fine-tune-lr", "0.001");
        assertThat(noFineTune.code()).isEqualTo(2);
        assertThat(noFineTune.err()).contains("--fine-tune-lr needs --fine-tune-epochs > 0");
    }

    private static double testLoss(JsonObject summary, int row) {
        return summary.getAsJsonArray("results").get(row).getAsJsonObject().get("test_loss").getAsDouble();
    }

    private static String[] concat(String[] first, String... rest) {
        String[] out = java.util.Arrays.copyOf(first, first.length + rest.length);
        System.arraycopy(rest, 0, out, first.length, rest.length);
        return out;
    }
}
