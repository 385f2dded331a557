package ai.fishleg.cli;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG line plots of a command's runs (XChart): one line per optimizer for the test metric, and a
 * dashed line of the same colour for the training loss.
 */
final class Plots {

    /** Colour of each optimizer, the same in every plot. */
    static final Color[] COLORS = {
        new Color(0xD62728), new Color(0x1F77B4), new Color(0x2CA02C), new Color(0x9467BD)
    };

    private Plots() {}

    /**
     * Writes loss_vs_epoch.png, loss_vs_seconds.png and, for classifiers, accuracy_vs_epoch.png.
     *
     * @param dir output folder
     * @param title plot title (the task)
     * @param runs the runs
     * @param classifier whether to plot accuracy
     * @param target the target test loss, drawn as a horizontal line on loss_vs_seconds.png, or NaN
     * @return the files written
     * @throws IOException if a file cannot be written
     */
    static List<Path> write(Path dir, String title, List<RunResult> runs, boolean classifier, double target)
            throws IOException {
        List<Path> out = new ArrayList<>();
        out.add(save(lossChart(title, "epoch", runs, MetricsRow::epoch), dir, "loss_vs_epoch"));
        XYChart bySeconds = lossChart(title, "wall-clock training seconds", runs, MetricsRow::seconds);
        targetLine(bySeconds, runs, target);
        out.add(save(bySeconds, dir, "loss_vs_seconds"));
        if (classifier) {
            XYChart chart = chart(title + ": test accuracy", "epoch", "accuracy");
            for (int i = 0; i < runs.size(); i++) {
                RunResult r = runs.get(i);
                line(chart, r.optimizer().label() + " test", r.rows(), MetricsRow::epoch,
                        MetricsRow::accuracy, COLORS[i % COLORS.length], SeriesLines.SOLID);
            }
            out.add(save(chart, dir, "accuracy_vs_epoch"));
        }
        return out;
    }

    private static XYChart lossChart(
            String title, String xTitle, List<RunResult> runs, ToDoubleFunction<MetricsRow> x) {
        XYChart chart = chart(title + ": loss (nats per example)", xTitle, "loss");
        for (int i = 0; i < runs.size(); i++) {
            RunResult r = runs.get(i);
            Color c = COLORS[i % COLORS.length];
            line(chart, r.optimizer().label() + " test", r.rows(), x, MetricsRow::testLoss, c,
                    SeriesLines.SOLID);
            line(chart, r.optimizer().label() + " train", r.rows(), x, MetricsRow::trainLoss, c,
                    SeriesLines.DASH_DASH);
        }
        return chart;
    }

    /** A grey dotted horizontal line at the target loss across the runs' training seconds. */
    private static void targetLine(XYChart chart, List<RunResult> runs, double target) {
        double end = 0;
        for (RunResult r : runs) {
            for (MetricsRow row : r.rows()) {
                end = Math.max(end, row.seconds());
            }
        }
        if (!Double.isFinite(target) || end <= 0) {
            return;
        }
        XYSeries s = chart.addSeries(String.format(Locale.ROOT, "target %.4g", target),
                List.of(0.0, end), List.of(target, target));
        s.setLineColor(Color.GRAY);
        s.setLineStyle(SeriesLines.DOT_DOT);
        s.setMarker(SeriesMarkers.NONE);
    }

    static XYChart chart(String title, String xTitle, String yTitle) {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title)
                .xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setMarkerSize(5);
        return chart;
    }

    /** Adds a line of the finite points of the rows (a diverged run's NaN losses are left out). */
    private static void line(XYChart chart, String name, List<MetricsRow> rows,
            ToDoubleFunction<MetricsRow> x, ToDoubleFunction<MetricsRow> y, Color color,
            java.awt.BasicStroke stroke) {
        List<Double> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (MetricsRow row : rows) {
            double yv = y.applyAsDouble(row);
            if (Double.isFinite(yv)) {
                xs.add(x.applyAsDouble(row));
                ys.add(yv);
            }
        }
        if (xs.isEmpty()) {
            return;
        }
        XYSeries s = chart.addSeries(name, xs, ys);
        s.setLineColor(color);
        s.setMarkerColor(color);
        s.setLineStyle(stroke);
    }

    static Path save(XYChart chart, Path dir, String name) throws IOException {
        Path file = dir.resolve(name + ".png");
        BitmapEncoder.saveBitmap(chart, file.toString(), BitmapEncoder.BitmapFormat.PNG);
        return file;
    }
}
