package ai.fishleg.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** The console side of a command: the header, a line per evaluation, and the final tables. */
final class Report implements TrainingLoop.Listener {

    private final PrintWriter out;
    private final boolean classifier;

    /**
     * @param out where to print
     * @param classifier whether to show accuracy
     */
    Report(PrintWriter out, boolean classifier) {
        this.out = out;
        this.classifier = classifier;
    }

    /** @param c the context, printed as a short header */
    void header(RunContext c) {
        long perEpoch = c.budget().stepsPerEpoch(c.trainExamples());
        long total = c.budget().totalSteps(c.trainExamples());
        out.printf(Locale.ROOT, "Task    %s: %s%n", c.task().name(), c.task().summary());
        out.printf(Locale.ROOT, "Data    %s: %d training, %d test examples%n",
                c.data(), c.trainExamples(), c.testExamples());
        out.printf(Locale.ROOT, "Budget  %d steps (%s epochs) of batch %d, %d steps per epoch; seed %d%n",
                total, trim((double) total / perEpoch), c.budget().batchSize(), perEpoch, c.seed());
        out.printf(Locale.ROOT, "Output  %s%n", c.out());
        out.flush();
    }

    /**
     * @param spec an optimizer about to run
     */
    void optimizer(OptimizerSpec spec) {
        out.println();
        if (spec.kind() == OptimizerKind.FISHLEG) {
            var s = spec.fishLeg();
            out.printf(Locale.ROOT, "%s: fish-lr %s, damping %s, aux-lr %s, update-aux-every %d,"
                            + " estimator %s, kl-clip %s, scale %s, beta %s, fish-weight-decay %s,"
                            + " normalization %s, precondition-aux %s, u-sampling %s, warmup %d%n",
                    spec.kind(), trim(s.fishLr()), trim(s.damping()), trim(s.auxLr()), s.updateAuxEvery(),
                    s.estimator().name().toLowerCase(Locale.ROOT), trim(s.klClip()), trim(s.scale()),
                    trim(s.beta()), trim(s.weightDecay()), s.normalization(), s.preconditionAux(),
                    s.uSampling().name().toLowerCase(Locale.ROOT), s.warmup());
        } else {
            var s = spec.baseline();
            out.printf(Locale.ROOT, "%s: lr %s%s, weight-decay %s%n", spec.kind(), trim(s.lr()),
                    spec.kind() == OptimizerKind.SGD ? ", momentum " + trim(s.momentum()) : "",
                    trim(s.weightDecay()));
        }
        out.printf("%-9s %8s %8s %9s %11s %11s%s%n", "optimizer", "epoch", "step", "seconds",
                "train_loss", "test_loss", classifier ? String.format(" %9s", "accuracy") : "");
        out.flush();
    }

    @Override
    public void started(OptimizerKind optimizer, long firstStep, long totalSteps) {
        if (firstStep > 0) {
            out.printf(Locale.ROOT, "(resumed at step %d; training to step %d)%n", firstStep, totalSteps);
            out.flush();
        }
    }

    @Override
    public void evaluated(MetricsRow r) {
        out.printf(Locale.ROOT, "%-9s %8s %8d %9.1f %11.4f %11.4f%s%n", r.optimizer(), trim(r.epoch()),
                r.step(), r.seconds(), r.trainLoss(), r.testLoss(),
                classifier ? String.format(Locale.ROOT, " %9.4f", r.accuracy()) : "");
        out.flush();
    }

    @Override
    public void finished(RunResult r) {
        if (r.diverged()) {
            out.printf(Locale.ROOT, "%s DIVERGED at step %d (%s); the run was stopped there. Try a"
                    + " smaller step size (--fish-lr / --lr) or, for FishLeg, a larger --damping or a"
                    + " --kl-clip.%n", r.optimizer(), r.divergedAtStep(), r.divergence());
            out.println("No checkpoint is written for a diverged run.");
            out.flush();
        }
        if (r.checkpoint() != null) {
            out.printf(Locale.ROOT, "Checkpoint at step %d: %s%n", r.steps(), r.checkpoint());
            out.flush();
        }
    }

    /**
     * Prints, for several runs, the test loss of each optimizer side by side, then the summary.
     *
     * @param runs the runs
     */
    void comparison(List<RunResult> runs) {
        if (runs.size() > 1) {
            out.println();
            out.println("Test loss" + (classifier ? " / accuracy" : "") + " by optimizer");
            StringBuilder head = new StringBuilder(String.format("%8s %8s", "epoch", "step"));
            for (RunResult r : runs) {
                head.append(String.format(" %18s", r.optimizer().label()));
            }
            out.println(head);
            Map<Long, MetricsRow[]> bySteps = new TreeMap<>();
            for (int i = 0; i < runs.size(); i++) {
                for (MetricsRow row : runs.get(i).rows()) {
                    bySteps.computeIfAbsent(row.step(), k -> new MetricsRow[runs.size()])[i] = row;
                }
            }
            for (Map.Entry<Long, MetricsRow[]> e : bySteps.entrySet()) {
                MetricsRow any = null;
                for (MetricsRow m : e.getValue()) {
                    any = any == null ? m : any;
                }
                StringBuilder line = new StringBuilder(
                        String.format(Locale.ROOT, "%8s %8d", trim(any.epoch()), e.getKey()));
                for (MetricsRow m : e.getValue()) {
                    String cell = m == null ? "-" : classifier
                            ? String.format(Locale.ROOT, "%.4f / %.4f", m.testLoss(), m.accuracy())
                            : String.format(Locale.ROOT, "%.4f", m.testLoss());
                    line.append(String.format(" %18s", cell));
                }
                out.println(line);
            }
        }
        out.println();
        out.println("Summary");
        out.printf("%-9s %8s %8s %10s %9s %16s %15s%s  %s%n", "optimizer", "epochs", "steps",
                "train_s", "ms/step", "final_train_loss", "final_test_loss",
                classifier ? String.format(" %14s", "final_accuracy") : "", "status");
        for (RunResult r : runs) {
            MetricsRow last = r.last();
            out.printf(Locale.ROOT, "%-9s %8s %8d %10.1f %9.1f %16.4f %15.4f%s  %s%n",
                    r.optimizer(), trim(r.epochs()), r.steps(), r.trainSeconds(),
                    r.steps() == 0 ? 0 : 1000 * r.trainSeconds() / r.steps(),
                    last == null ? Double.NaN : last.trainLoss(),
                    last == null ? Double.NaN : last.testLoss(),
                    classifier ? String.format(Locale.ROOT, " %14.4f", last == null ? Double.NaN : last.accuracy()) : "",
                    r.diverged() ? "diverged at step " + r.divergedAtStep() : "ok");
        }
        out.flush();
    }

    /** @param files output files written */
    void files(List<Path> files) {
        out.println();
        out.println("Wrote:");
        for (Path f : files) {
            out.println("  " + f);
        }
        out.flush();
    }

    /** A number without needless digits: 1, 0.5, 0.0001, 1e-05. */
    static String trim(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e9) {
            return Long.toString((long) v);
        }
        String s = String.format(Locale.ROOT, "%.4g", v);
        if (s.contains("e")) {
            String[] parts = s.split("e");
            return stripZeros(parts[0]) + "e" + Integer.parseInt(parts[1]);
        }
        return stripZeros(s);
    }

    private static String stripZeros(String s) {
        if (!s.contains(".")) {
            return s;
        }
        s = s.replaceAll("0+$", "");
        return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
    }
}
