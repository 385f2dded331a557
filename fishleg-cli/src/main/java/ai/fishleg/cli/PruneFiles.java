package ai.fishleg.cli;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalDouble;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;

/** The files of {@code fishleg prune}: results.csv, summary.json and accuracy_vs_sparsity.png. */
final class PruneFiles {

    private PruneFiles() {}

    /**
     * @param dir the output folder
     * @param context the run
     * @param rows the evaluations, the dense network's first
     * @param fineTuneLr the fine-tunes' step size (none when there was no fine-tune)
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    static List<Path> write(Path dir, RunContext context, List<PruneRow> rows, OptionalDouble fineTuneLr)
            throws IOException {
        List<Path> out = new ArrayList<>();
        StringBuilder csv = new StringBuilder(
                "method,sparsity,measured_sparsity,mode,fine_tuned,test_loss,test_accuracy\n");
        JsonArray results = new JsonArray();
        for (PruneRow r : rows) {
            csv.append(String.format(Locale.ROOT, "%s,%s,%s,%s,%s,%s,%s%n", r.method(), r.sparsity(),
                    r.measuredSparsity(), r.mode(), r.fineTuned(), r.testLoss(), r.testAccuracy()));
            JsonObject o = new JsonObject();
            o.addProperty("method", r.method());
            o.addProperty("sparsity", r.sparsity());
            o.addProperty("measured_sparsity", r.measuredSparsity());
            o.addProperty("mode", r.mode());
            o.addProperty("fine_tuned", r.fineTuned());
            o.addProperty("test_loss", r.testLoss());
            o.addProperty("test_accuracy", r.testAccuracy());
            results.add(o);
        }
        Path csvFile = dir.resolve("results.csv");
        Files.writeString(csvFile, csv);
        out.add(csvFile);
        JsonObject summary = context.toJson();
        fineTuneLr.ifPresent(lr -> summary.addProperty("fine_tune_lr", lr));
        summary.add("results", results);
        Path json = dir.resolve("summary.json");
        Files.writeString(json, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
                .create().toJson(summary));
        out.add(json);
        if (context.task().isClassifier()) {
            out.add(plot(dir, context, rows));
        }
        return out;
    }

    /**
     * One line per method, mode and fine-tuning: a colour per method, solid for one-shot, dashed for
     * gradual, thin dotted when fine-tuned.
     */
    private static Path plot(Path dir, RunContext context, List<PruneRow> rows) throws IOException {
        XYChart chart = Plots.chart(context.task().name() + ": pruned, test accuracy", "sparsity", "accuracy");
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        Map<String, List<PruneRow>> lines = new LinkedHashMap<>();
        List<String> methods = new ArrayList<>();
        for (PruneRow r : rows) {
            if (!r.mode().equals("dense")) {
                if (!methods.contains(r.method())) {
                    methods.add(r.method());
                }
                lines.computeIfAbsent(r.method() + " " + r.mode() + (r.fineTuned() ? " fine-tuned" : ""),
                        k -> new ArrayList<>()).add(r);
            }
        }
        for (Map.Entry<String, List<PruneRow>> e : lines.entrySet()) {
            List<Double> xs = new ArrayList<>();
            List<Double> ys = new ArrayList<>();
            for (PruneRow r : e.getValue()) {
                xs.add(r.sparsity());
                ys.add(r.testAccuracy());
            }
            PruneRow first = e.getValue().get(0);
            XYSeries s = chart.addSeries(e.getKey(), xs, ys);
            Color c = Plots.COLORS[methods.indexOf(first.method()) % Plots.COLORS.length];
            s.setLineColor(c);
            s.setMarkerColor(c);
            s.setLineStyle(first.fineTuned() ? SeriesLines.DOT_DOT
                    : first.mode().equals("gradual") ? SeriesLines.DASH_DASH : SeriesLines.SOLID);
        }
        return Plots.save(chart, dir, "accuracy_vs_sparsity");
    }
}
