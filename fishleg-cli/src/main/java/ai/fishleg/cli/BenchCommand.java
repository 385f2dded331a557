package ai.fishleg.cli;

import ai.fishleg.bench.BenchResult;
import ai.fishleg.bench.StepBenchmark;
import ai.fishleg.bench.Workload;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg bench}: what a training step of FishLeg costs against Adam, and against the floor. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {
            "Time the training step (forward, backward, optimizer step) of DJL's Adam and of"
                    + " FishLeg (full Kronecker Q, and batchSpeedup) on the task's network with"
                    + " random data of the right shape, interleaved in one process, after warm-up.",
            "Prints the median ms per step, the FishLeg/Adam ratios, the time shares of Qv,"
                    + " auxiliary updates and the rest, the FLOPs of Qv and of the amortised"
                    + " auxiliary update, the GFLOP/s of Qv next to a plain N³ matrix product, and"
                    + " the floor: Adam's step plus FishLeg's extra FLOPs at that product's speed.",
            "Run it on a quiet machine: other processes on the cores make every number noisy."
        })
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Option(names = "--json", paramLabel = "FILE", description = "Also write the numbers as JSON.")
    Path json;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "15",
            description = "Measured rounds; each runs one auxiliary period of steps of each"
                    + " optimizer (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--warmup-rounds", paramLabel = "N", defaultValue = "3",
            description = "Rounds run first and discarded (default: ${DEFAULT-VALUE}).")
    int warmupRounds;

    @Option(names = "--threads", paramLabel = "N",
            description = "PyTorch's intra-op threads (default: one per core). Must be set before"
                    + " the engine starts, so only the first command of a process can set it.")
    Integer threads;

    @Option(names = "--clock", paramLabel = "CLOCK", defaultValue = "wall",
            description = "wall (default): elapsed time; thread_cpu: CPU time of the benchmark's"
                    + " thread, steady while other processes compete for the cores, meaningful"
                    + " only with --threads 1.")
    StepBenchmark.Clock clock;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1",
            description = "Seed of the random data, weights and optimizers (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (rounds < 1 || warmupRounds < 0) {
            throw new IllegalArgumentException("--rounds must be >= 1 and --warmup-rounds >= 0; got "
                    + rounds + " and " + warmupRounds);
        }
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be >= 1; got " + threads);
            }
            System.setProperty("ai.djl.pytorch.num_threads", threads.toString());
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        StepBenchmark.Settings settings = new StepBenchmark.Settings(
                warmupRounds, rounds, StepBenchmark.Settings.DEFAULT.matmulSize(), seed, clock);
        BenchResult result = new StepBenchmark(Workload.of(taskOption.task), settings, err).run();
        out.print(result.summary());
        if (json != null) {
            try {
                if (json.getParent() != null) {
                    Files.createDirectories(json.getParent());
                }
                Files.writeString(json, result.toJson());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write " + json + ": " + e.getMessage(), e);
            }
            out.println("  written: " + json);
        }
        out.flush();
        return 0;
    }
}
