package ai.fishleg.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What the training loop itself must remember to continue a run exactly: the step count, the
 * training time, the position of the batch order, the training-loss accumulators and the rows of
 * metrics so far. {@code train --save} stores it (with the settings of the run) in the metadata of
 * the FishLeg checkpoint ({@link ai.fishleg.core.Checkpoint}); {@code train --resume} reads it back.
 */
final class LoopState {

    /** Metadata key marking a checkpoint written by this command line, with its layout version. */
    static final String FORMAT_KEY = "fishleg-cli.format";
    static final String FORMAT = "1";

    private static final String RUN = "run.";
    private static final String SETTING = "setting.";
    private static final Gson GSON = new GsonBuilder().serializeSpecialFloatingPointValues().create();

    /** The command-line option that sets each run field, for messages. */
    private static final Map<String, String> OPTIONS = Map.of(
            "task", "--task", "data", "--data", "train_examples", "--train-size", "test_examples", "--test-size",
            "batch_size", "--batch-size", "init", "--init", "seed", "--seed", "optimizer", "--optimizer");

    /**
     * @param metadata a checkpoint's metadata
     * @return the task of the run that wrote it, or null if the command line did not write it
     */
    static String task(Map<String, String> metadata) {
        return metadata.get(RUN + "task");
    }

    /** Optimizer steps completed. */
    long step;
    /** Training time so far, seconds (evaluation excluded). */
    double seconds;
    /** State of the batch-order generator before it drew the order of the current epoch. */
    long epochShuffleState;
    /** Sum of the training-batch losses since the last scheduled evaluation. */
    double lossSum;
    /** Number of losses in {@link #lossSum}. */
    long lossCount;
    /**
     * Rows of the scheduled evaluations (every evaluation interval); the extra evaluation at the
     * end of a run is not one of them, so a resumed run writes the rows an uninterrupted run writes.
     */
    final List<MetricsRow> rows = new ArrayList<>();

    /** @param shuffleState the batch-order generator's state at the start of training */
    LoopState(long shuffleState) {
        this.epochShuffleState = shuffleState;
    }

    /**
     * What a checkpoint must agree on to continue a run: the run's data (both splits, so that
     * its metrics continue too), batches, seed and optimizer with every one of its settings.
     *
     * @param context the run
     * @param optimizer the optimizer
     * @param settings the optimizer's settings (name to value)
     * @return metadata key to value
     */
    static Map<String, String> identity(RunContext context, OptimizerKind optimizer, Map<String, Object> settings) {
        Map<String, String> id = new LinkedHashMap<>();
        id.put(RUN + "task", context.task().name());
        id.put(RUN + "data", context.data());
        id.put(RUN + "train_examples", Long.toString(context.trainExamples()));
        id.put(RUN + "test_examples", Long.toString(context.testExamples()));
        id.put(RUN + "batch_size", Integer.toString(context.budget().batchSize()));
        id.put(RUN + "init", context.init().label());
        id.put(RUN + "seed", Long.toString(context.seed()));
        id.put(RUN + "optimizer", optimizer.label());
        settings.forEach((k, v) -> id.put(SETTING + k, String.valueOf(v)));
        return id;
    }

    /**
     * @param identity the run's {@link #identity}
     * @param shuffleState the batch-order generator's state before it draws the order of the
     *     epoch that holds the next step
     * @return the metadata to store with the optimizer's checkpoint
     */
    Map<String, String> toMetadata(Map<String, String> identity, long shuffleState) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(FORMAT_KEY, FORMAT);
        m.putAll(identity);
        m.put("loop.step", Long.toString(step));
        m.put("loop.seconds", Double.toString(seconds));
        m.put("loop.shuffle_state", Long.toString(shuffleState));
        m.put("loop.loss_sum", Double.toString(lossSum)); // Double.toString round-trips exactly
        m.put("loop.loss_count", Long.toString(lossCount));
        m.put("loop.rows", GSON.toJson(rows));
        return m;
    }

    /**
     * Reads the loop's state back, after checking that the checkpoint was written by a run that
     * this one can continue.
     *
     * @param metadata the checkpoint's metadata
     * @param identity this run's {@link #identity}
     * @param file the checkpoint, for messages
     * @return the state; {@link #epochShuffleState} is the generator's state before it draws the
     *     order of the epoch that holds the next step
     * @throws IllegalArgumentException naming every setting that differs, or saying that the file
     *     does not hold this command line's state
     */
    static LoopState fromMetadata(Map<String, String> metadata, Map<String, String> identity, Path file) {
        String format = metadata.get(FORMAT_KEY);
        if (format == null) {
            throw new IllegalArgumentException("--resume " + file + ": this FishLeg checkpoint was not"
                    + " written by `fishleg train --save` (it has no training-loop state: step, batch"
                    + " order, losses), so the command line cannot continue it exactly");
        }
        if (!format.equals(FORMAT)) {
            throw new IllegalArgumentException("--resume " + file + ": its training-loop state has"
                    + " layout version " + format + " but this fishleg reads version " + FORMAT);
        }
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> e : identity.entrySet()) {
            String saved = metadata.get(e.getKey());
            if (!e.getValue().equals(saved)) {
                problems.add(describe(e.getKey(), saved, e.getValue()));
            }
        }
        for (String key : metadata.keySet()) {
            if ((key.startsWith(RUN) || key.startsWith(SETTING)) && !identity.containsKey(key)) {
                problems.add(describe(key, metadata.get(key), null));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("--resume " + file + " was written by a different run,"
                    + " so this one cannot continue it exactly:\n  " + String.join("\n  ", problems)
                    + "\nGive the options of the run that wrote it (its summary.json lists them); --steps"
                    + " or --epochs say how much longer to train.");
        }
        try {
            LoopState s = new LoopState(Long.parseLong(required(metadata, "loop.shuffle_state", file)));
            s.step = Long.parseLong(required(metadata, "loop.step", file));
            s.seconds = Double.parseDouble(required(metadata, "loop.seconds", file));
            s.lossSum = Double.parseDouble(required(metadata, "loop.loss_sum", file));
            s.lossCount = Long.parseLong(required(metadata, "loop.loss_count", file));
            MetricsRow[] rows = GSON.fromJson(required(metadata, "loop.rows", file), MetricsRow[].class);
            s.rows.addAll(Arrays.asList(Objects.requireNonNull(rows, "loop.rows")));
            return s;
        } catch (NumberFormatException | JsonParseException | NullPointerException e) {
            throw new IllegalArgumentException("--resume " + file + ": its training-loop state is"
                    + " unreadable (" + e.getMessage() + ")", e);
        }
    }

    private static String required(Map<String, String> metadata, String key, Path file) {
        String v = metadata.get(key);
        if (v == null) {
            throw new IllegalArgumentException(
                    "--resume " + file + ": its training-loop state lacks '" + key + "'");
        }
        return v;
    }

    private static String describe(String key, String saved, String now) {
        String name = key.substring(key.indexOf('.') + 1);
        String option = key.startsWith(RUN) ? " (" + OPTIONS.getOrDefault(name, name) + ")" : "";
        String kind = key.startsWith(SETTING) ? "setting " : "";
        return kind + name + option + ": " + (saved == null ? "not set" : saved) + " in the checkpoint, "
                + (now == null ? "not set" : now) + " in this run";
    }
}
