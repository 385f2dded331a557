package ai.fishleg.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * The files of a sweep ({@code fishleg tune}): tune.json (what was swept, every trial and the
 * best), tune.csv (one row per trial) and tune.png (final test loss against the learning rate).
 * tune.json is rewritten after every trial, so that an interrupted sweep continues where it stopped.
 */
final class SweepFiles {

    /** The sweep's record, read back to resume. */
    static final String JSON = "tune.json";
    /** One row per trial. */
    static final String CSV = "tune.csv";
    /** Final test loss against the swept learning rate. */
    static final String PLOT = "tune.png";

    private SweepFiles() {}

    /**
     * Trials of an interrupted sweep in the folder, if it was the same sweep.
     *
     * @param dir the output folder
     * @param identity what the sweep is (task, optimizer, budget, seed, ...), as written in tune.json
     * @return the trials done, empty when the folder has no tune.json
     * @throws IOException if tune.json cannot be read
     * @throws IllegalArgumentException if tune.json is of another sweep or malformed
     */
    static List<Sweep.Trial> done(Path dir, JsonObject identity) throws IOException {
        Path file = dir.resolve(JSON);
        if (!Files.isRegularFile(file)) {
            return List.of();
        }
        JsonObject saved;
        try {
            saved = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new IllegalArgumentException(file + " is not a tune.json (" + e.getMessage()
                    + "); remove it or choose another --out", e);
        }
        for (String key : identity.keySet()) {
            if (!identity.get(key).equals(saved.get(key))) {
                throw new IllegalArgumentException(file + " is a sweep with another " + key + " ("
                        + saved.get(key) + ", this one: " + identity.get(key) + "); to continue it,"
                        + " give the same options, else choose another --out");
            }
        }
        List<Sweep.Trial> trials = new ArrayList<>();
        try {
            for (JsonElement e : saved.getAsJsonArray("trials")) {
                trials.add(trial(e.getAsJsonObject()));
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + " has a malformed trial (" + e.getMessage()
                    + "); remove it or choose another --out", e);
        }
        return trials;
    }

    /**
     * Rewrites tune.json atomically.
     *
     * @param dir the output folder
     * @param identity what the sweep is
     * @param trials the trials so far
     * @param objective how the best is chosen
     * @throws IOException if it cannot be written
     */
    static Path writeJson(Path dir, JsonObject identity, List<Sweep.Trial> trials, Sweep.Objective objective)
            throws IOException {
        JsonObject o = identity.deepCopy();
        o.addProperty("objective", objective.name().toLowerCase(Locale.ROOT));
        com.google.gson.JsonArray array = new com.google.gson.JsonArray();
        trials.forEach(t -> array.add(json(t)));
        o.add("trials", array);
        Optional<Sweep.Trial> best = Sweep.best(trials, objective);
        o.add("best", best.<JsonElement>map(SweepFiles::json).orElse(JsonNull.INSTANCE));
        Files.createDirectories(dir);
        Path file = dir.resolve(JSON);
        Path tmp = dir.resolve(JSON + ".partial");
        Files.writeString(tmp, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
                .disableHtmlEscaping().create().toJson(o) + "\n");
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /**
     * Writes tune.csv and tune.png.
     *
     * @param dir the output folder
     * @param title the plot's title
     * @param trials every trial
     * @param best the best trial, if any
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    static List<Path> writeTable(Path dir, String title, List<Sweep.Trial> trials, Optional<Sweep.Trial> best)
            throws IOException {
        Path csv = dir.resolve(CSV);
        List<String> names = new ArrayList<>(trials.get(0).settings().keySet());
        try (Writer w = Files.newBufferedWriter(csv, StandardCharsets.UTF_8)) {
            w.write(String.join(",", names) + ",final_test_loss,final_accuracy,steps,seconds,"
                    + "steps_to_target,seconds_to_target,diverged,best\n");
            for (Sweep.Trial t : trials) {
                for (String n : names) {
                    w.write(num(t.settings().get(n)) + ",");
                }
                w.write(String.format(Locale.ROOT, "%s,%s,%d,%.3f,%s,%s,%s,%s%n", num(t.finalTestLoss()),
                        num(t.finalAccuracy()), t.steps(), t.seconds(),
                        t.reachedTarget() ? String.format(Locale.ROOT, "%.1f", t.stepsToTarget()) : "",
                        t.reachedTarget() ? String.format(Locale.ROOT, "%.3f", t.secondsToTarget()) : "",
                        t.diverged(), best.isPresent() && best.get() == t));
            }
        }
        return List.of(csv, plot(dir, title, names, trials));
    }

    /** Final test loss against the first setting (log axis), one line per value of the others. */
    private static Path plot(Path dir, String title, List<String> names, List<Sweep.Trial> trials)
            throws IOException {
        String x = names.get(0);
        XYChart chart = new XYChartBuilder().width(800).height(500).title(title)
                .xAxisTitle(x + " (log scale)").yAxisTitle("final test loss").build();
        chart.getStyler().setXAxisLogarithmic(true);
        Map<String, TreeMap<Double, Double>> lines = new LinkedHashMap<>();
        for (Sweep.Trial t : trials) {
            if (!Double.isFinite(t.finalTestLoss())) {
                continue;
            }
            StringBuilder key = new StringBuilder();
            for (String n : names.subList(1, names.size())) {
                key.append(key.length() == 0 ? "" : ", ").append(n).append(' ').append(num(t.settings().get(n)));
            }
            lines.computeIfAbsent(key.length() == 0 ? "test loss" : key.toString(), k -> new TreeMap<>())
                    .put(t.settings().get(x), t.finalTestLoss());
        }
        lines.forEach((name, points) -> chart.addSeries(name, new ArrayList<>(points.keySet()),
                new ArrayList<>(points.values())));
        Path file = dir.resolve(PLOT);
        if (!lines.isEmpty()) {
            BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        }
        return file;
    }

    private static JsonObject json(Sweep.Trial t) {
        JsonObject o = new JsonObject();
        JsonObject s = new JsonObject();
        t.settings().forEach(s::addProperty);
        o.add("settings", s);
        o.add("final_test_loss", number(t.finalTestLoss()));
        o.add("final_accuracy", number(t.finalAccuracy()));
        o.addProperty("steps", t.steps());
        o.addProperty("seconds", t.seconds());
        o.add("steps_to_target", t.reachedTarget() ? new JsonPrimitive(t.stepsToTarget()) : JsonNull.INSTANCE);
        o.add("seconds_to_target", t.reachedTarget() ? new JsonPrimitive(t.secondsToTarget()) : JsonNull.INSTANCE);
        o.addProperty("diverged", t.diverged());
        return o;
    }

    private static Sweep.Trial trial(JsonObject o) {
        Map<String, Double> settings = new LinkedHashMap<>();
        o.getAsJsonObject("settings").entrySet().forEach(e -> settings.put(e.getKey(), e.getValue().getAsDouble()));
        return new Sweep.Trial(settings, dbl(o.get("final_test_loss")), dbl(o.get("final_accuracy")),
                o.get("steps").getAsLong(), o.get("seconds").getAsDouble(),
                dbl(o.get("steps_to_target")),
                dbl(o.get("seconds_to_target")), o.get("diverged").getAsBoolean());
    }

    private static JsonElement number(double v) {
        return Double.isFinite(v) ? new JsonPrimitive(v) : JsonNull.INSTANCE;
    }

    private static double dbl(JsonElement e) {
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    /** @return the number with 6 significant digits and no trailing zeros, "" when not finite */
    static String num(double v) {
        return Double.isFinite(v) ? new java.math.BigDecimal(String.format(Locale.ROOT, "%.6g", v))
                .stripTrailingZeros().toPlainString() : "";
    }
}
