package ai.fishleg.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a command's results into its output folder: metrics.csv (one row per evaluation of
 * every run), summary.json and the plots.
 */
final class RunFiles {

    /** The metrics table. */
    static final String METRICS = "metrics.csv";
    /** The summary. */
    static final String SUMMARY = "summary.json";

    private RunFiles() {}

    /**
     * Writes every output file.
     *
     * @param dir the output folder (created if needed)
     * @param context what was run
     * @param runs the runs, in order
     * @param single true for {@code train}: summary.json is the run itself, not a list of runs
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    static List<Path> write(Path dir, RunContext context, List<RunResult> runs, boolean single)
            throws IOException {
        Files.createDirectories(dir);
        List<Path> files = new ArrayList<>();
        files.add(writeMetrics(dir.resolve(METRICS), runs, context.task().isClassifier()));
        files.add(writeSummary(dir.resolve(SUMMARY), context, runs, single));
        TimeToTarget.Result target = runs.get(0).target();
        files.addAll(Plots.write(dir, context.task().name(), runs, context.task().isClassifier(),
                target == null ? Double.NaN : target.loss()));
        return files;
    }

    private static Path writeMetrics(Path file, List<RunResult> runs, boolean classifier) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            w.write("optimizer,epoch,step,seconds,train_loss,test_loss" + (classifier ? ",accuracy" : "") + "\n");
            for (RunResult r : runs) {
                for (MetricsRow row : r.rows()) {
                    w.write(String.format(Locale.ROOT, "%s,%.4f,%d,%.3f,%s,%s",
                            row.optimizer(), row.epoch(), row.step(), row.seconds(),
                            number(row.trainLoss()), number(row.testLoss())));
                    if (classifier) {
                        w.write("," + number(row.accuracy()));
                    }
                    w.write("\n");
                }
            }
        }
        return file;
    }

    private static String number(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6f", v) : "NaN";
    }

    private static Path writeSummary(Path file, RunContext context, List<RunResult> runs, boolean single)
            throws IOException {
        JsonObject root;
        if (single) {
            root = context.toJson();
            for (Map.Entry<String, JsonElement> e : run(runs.get(0), context).entrySet()) {
                root.add(e.getKey(), e.getValue());
            }
        } else {
            root = context.toJson();
            JsonArray names = new JsonArray();
            JsonArray list = new JsonArray();
            for (RunResult r : runs) {
                names.add(r.optimizer().label());
                list.add(run(r, context));
            }
            root.add("optimizers", names);
            root.add("runs", list);
        }
        Files.writeString(file, new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(root)
                + "\n", StandardCharsets.UTF_8);
        return file;
    }

    private static JsonObject run(RunResult r, RunContext context) {
        JsonObject o = new JsonObject();
        o.addProperty("task", context.task().name());
        o.addProperty("optimizer", r.optimizer().label());
        o.add("hyperparameters", toJson(r.hyperparameters()));
        if (!r.statistics().isEmpty()) {
            o.add("optimizer_statistics", toJson(r.statistics()));
        }
        o.add("epochs", json(r.epochs()));
        o.addProperty("steps", r.steps());
        o.add("train_seconds", json(r.trainSeconds()));
        MetricsRow last = r.last();
        o.add("final_train_loss", json(last == null ? Double.NaN : last.trainLoss()));
        o.add("final_test_loss", json(last == null ? Double.NaN : last.testLoss()));
        if (context.task().isClassifier()) {
            o.add("final_accuracy", json(last == null ? Double.NaN : last.accuracy()));
        }
        o.addProperty("diverged", r.diverged());
        o.add("diverged_at_step", r.diverged() ? new JsonPrimitive(r.divergedAtStep()) : JsonNull.INSTANCE);
        o.add("divergence", r.diverged() ? new JsonPrimitive(r.divergence()) : JsonNull.INSTANCE);
        o.add("stopped", r.stopped() == null ? JsonNull.INSTANCE : new JsonPrimitive(r.stopped().label()));
        TimeToTarget.Result target = r.target();
        TimeToTarget.Reached reached = target == null ? null : target.reached();
        o.add("target_loss", target == null ? JsonNull.INSTANCE : json(target.loss()));
        o.add("seconds_to_target", reached == null ? JsonNull.INSTANCE : json(reached.seconds()));
        o.add("steps_to_target", reached == null ? JsonNull.INSTANCE : json(reached.steps()));
        if (r.resumedAtStep() >= 0) {
            o.addProperty("resumed_at_step", r.resumedAtStep());
        }
        if (r.checkpoint() != null) {
            o.addProperty("checkpoint", r.checkpoint().toString());
        }
        return o;
    }

    /** Numbers, flags, texts and lists of them; NaN and infinities become null (JSON has none). */
    static JsonElement toJson(Object v) {
        if (v == null) {
            return JsonNull.INSTANCE;
        }
        if (v instanceof Map<?, ?> map) {
            JsonObject o = new JsonObject();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                o.add(String.valueOf(e.getKey()), toJson(e.getValue()));
            }
            return o;
        }
        if (v instanceof Collection<?> c) {
            JsonArray a = new JsonArray();
            for (Object x : c) {
                a.add(toJson(x));
            }
            return a;
        }
        if (v instanceof Double || v instanceof Float) {
            return json(((Number) v).doubleValue());
        }
        if (v instanceof Number n) {
            return new JsonPrimitive(n);
        }
        if (v instanceof Boolean b) {
            return new JsonPrimitive(b);
        }
        return new JsonPrimitive(v.toString());
    }

    private static JsonElement json(double v) {
        return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
    }
}
