package ai.fishleg.cli;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on the terminal (standard error) with the running training loss, one bar per
 * evaluation interval: the bar is cleared before each line of metrics is printed, so the table
 * stays readable. Not shown when the output is not a terminal.
 */
final class Progress implements TrainingLoop.Listener {

    private final long evalInterval;
    private OptimizerKind optimizer;
    private long total;
    private long segmentStart;
    private ProgressBar bar;

    /** @param evalInterval steps between evaluations */
    Progress(long evalInterval) {
        this.evalInterval = evalInterval;
    }

    /** @return whether a progress bar can be drawn (an interactive terminal) */
    static boolean available() {
        return System.console() != null;
    }

    @Override
    public void started(OptimizerKind kind, long firstStep, long totalSteps) {
        this.optimizer = kind;
        this.total = totalSteps;
        this.segmentStart = firstStep;
    }

    @Override
    public void stepped(long step, double runningLoss) {
        if (bar == null) {
            // the next scheduled evaluation (a resumed run may start between two)
            long end = Math.min(total, (segmentStart / evalInterval + 1) * evalInterval);
            bar = new ProgressBarBuilder()
                    .setTaskName(String.format("%s %d-%d/%d", optimizer, segmentStart + 1, end, total))
                    .setInitialMax(end - segmentStart)
                    .setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(250)
                    .clearDisplayOnFinish()
                    .continuousUpdate()
                    .build();
        }
        bar.stepTo(step - segmentStart);
        bar.setExtraMessage(String.format(java.util.Locale.ROOT, "loss %.4f", runningLoss));
    }

    @Override
    public void evaluated(MetricsRow row) {
        close();
        segmentStart = row.step();
    }

    @Override
    public void finished(RunResult result) {
        close();
    }

    private void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
