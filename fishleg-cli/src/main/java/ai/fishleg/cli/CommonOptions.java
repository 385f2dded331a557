package ai.fishleg.cli;

import ai.fishleg.tasks.ModelInit;
import java.nio.file.Path;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Option;

/** Options shared by the commands that train: data, size of the run, seed, output. */
final class CommonOptions {

    @Option(names = "--data", paramLabel = "DIR",
            description = "Folder with the IDX files of an MNIST-format data set (default: $FISHLEG_DATA,"
                    + " else /usr/share/datasets/fashion-mnist for Fashion-MNIST tasks).")
    Path data;

    @Option(names = "--train-size", paramLabel = "N",
            description = "Use only the first N training examples (CURVES: generate N; default: all,"
                    + " 20000 for CURVES).")
    int trainSize;

    @Option(names = "--test-size", paramLabel = "N",
            description = "Use only the first N test examples (CURVES: generate N; default: all,"
                    + " 10000 for CURVES).")
    int testSize;

    @ArgGroup(exclusive = true, multiplicity = "0..1")
    Length length;

    /** Either epochs or steps. */
    static final class Length {
        @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training set"
                + " (default: the task's preset).")
        Integer epochs;

        @Option(names = "--steps", paramLabel = "N", description = "Optimizer steps, instead of --epochs.")
        Long steps;
    }

    @Option(names = "--batch-size", paramLabel = "B", description = "Examples per step (default: the task's preset).")
    Integer batchSize;

    @Option(names = "--eval-every", paramLabel = "N",
            description = "Evaluate on the test set every N steps (default: once per epoch; always at the end).")
    long evalEvery;

    @Option(names = "--time-limit", paramLabel = "S",
            description = "Stop each run after S seconds of training (evaluation excluded); the run"
                    + " counts as stopped by its budget, not as diverged.")
    Double timeLimit;

    @Option(names = "--target-loss", paramLabel = "X",
            description = "Test loss whose time to reach each run reports (seconds_to_target,"
                    + " steps_to_target; default: Adam's final test loss when Adam runs beside"
                    + " another optimizer). In train and tune, the run stops when it reaches it.")
    Double targetLoss;

    @Option(names = "--init", paramLabel = "SCHEME",
            description = "Initial weights: pytorch (uniform ±1/√fan_in, weights and biases) or he"
                    + " (uniform ±√(6/fan_in), biases 0) (default: the task's preset).")
    ModelInit.Scheme init;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Train data-parallel on Apache Spark: local[N], spark://host:port, ...,"
                    + " or 'submit' under spark-submit (docs/SPARK.md). The driver keeps the model and"
                    + " the optimizer; the executors sum losses, gradients and curvature statistics.")
    String spark;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "Seed of the initial weights, batch order and sampling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Output folder (default: runs/<task>-<timestamp>).")
    Path out;

    @Option(names = "--no-progress", description = "Do not draw a progress bar.")
    boolean noProgress;

    /**
     * @param defaultEpochs epochs when neither --epochs nor --steps is given
     * @param defaultBatch batch size when --batch-size is not given
     * @param stopAtTarget whether a run stops when it reaches {@code --target-loss} ({@code train})
     * @return the budget
     */
    Budget budget(int defaultEpochs, int defaultBatch, boolean stopAtTarget) {
        int epochs = length != null && length.epochs != null ? length.epochs : defaultEpochs;
        long steps = length != null && length.steps != null ? length.steps : 0;
        if (length != null && length.steps != null && steps <= 0) {
            throw new IllegalArgumentException("--steps must be positive, got " + steps);
        }
        if (timeLimit != null && !(timeLimit > 0 && Double.isFinite(timeLimit))) {
            throw new IllegalArgumentException("--time-limit must be a positive number of seconds, got " + timeLimit);
        }
        if (targetLoss != null && !Double.isFinite(targetLoss)) {
            throw new IllegalArgumentException("--target-loss must be a finite number, got " + targetLoss);
        }
        return new Budget(epochs, steps, batchSize != null ? batchSize : defaultBatch, evalEvery,
                timeLimit != null ? timeLimit : 0,
                stopAtTarget && targetLoss != null ? targetLoss : Double.NaN);
    }
}
