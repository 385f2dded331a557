package ai.fishleg.bench;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.fishleg.layers.RecordingLinear;
import ai.fishleg.likelihood.BernoulliLikelihood;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Runs the step benchmark from the command line (until the {@code fishleg bench} command exists):
 * {@code BenchMain [--task fmnist-autoencoder] [--json FILE] [--rounds N] [--warmup N]
 * [--threads N] [--clock wall|thread_cpu]} ({@code --threads}: PyTorch's intra-op threads,
 * default one per core; {@code --clock thread_cpu} times the CPU time of the benchmark's thread,
 * steady under load but only meaningful with {@code --threads 1}).
 */
public final class BenchMain {

    private BenchMain() {}

    /**
     * @param args see the class comment
     * @throws IOException if the JSON file cannot be written
     */
    public static void main(String[] args) throws IOException {
        String task = "fmnist-autoencoder";
        Path json = null;
        StepBenchmark.Settings s = StepBenchmark.Settings.DEFAULT;
        int rounds = s.rounds();
        int warmup = s.warmupRounds();
        StepBenchmark.Clock clock = s.clock();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--task" -> task = args[++i];
                case "--json" -> json = Path.of(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--clock" -> clock = StepBenchmark.Clock.valueOf(args[++i].toUpperCase());
                case "--threads" -> System.setProperty(
                        "ai.djl.pytorch.num_threads", String.valueOf(Integer.parseInt(args[++i])));
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (!task.equals("fmnist-autoencoder")) {
            throw new IllegalArgumentException("unknown task " + task);
        }
        Workload w = new Workload("fmnist-autoencoder", () -> autoencoder(784, 1000, 500, 250, 30),
                BernoulliLikelihood::new, new Shape(100, 784), 0,
                b -> b.fishLr(5e-3).damping(0.3).auxLr(1e-4).scale(1.0));
        BenchResult r = new StepBenchmark(
                w, new StepBenchmark.Settings(warmup, rounds, s.matmulSize(), s.seed(), clock), System.err)
                .run();
        System.out.print(r.summary());
        if (json != null) {
            Files.writeString(json, r.toJson());
        }
    }

    static SequentialBlock autoencoder(int inputSize, int... widths) {
        SequentialBlock net = new SequentialBlock();
        int layers = 2 * widths.length;
        for (int i = 0; i < layers; i++) {
            int out = i < widths.length ? widths[i]
                    : (i == layers - 1 ? inputSize : widths[layers - 2 - i]);
            net.add(RecordingLinear.builder().setUnits(out).build());
            if (i != widths.length - 1 && i != layers - 1) {
                net.add(Activation.reluBlock());
            }
        }
        return net;
    }
}
