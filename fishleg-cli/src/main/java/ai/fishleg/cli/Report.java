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
        out.printf(Locale.ROOT, "Budget  %d steps (%s epochs) of batch %d, %d steps per epoch%s; seed %d%n",
                total, trim((double) total / perEpoch), c.budget().batchSize(), perEpoch,
                c.budget().timeLimit() > 0 ? ", at most " + trim(c.budget().timeLimit()) + " s of training" : "",
                c.seed());
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
                            + " normalization %s, precondition-aux %s, u-sampling %s, warmup %d,"
                            + " batch-speedup %s, kronecker-start %d, kronecker-every %d,"
                            + " momentum-form %s, aux-moments %s, aux-step-scale %s, aux-burst %d,"
                            + " kronecker-labels %s, kronecker-identity-decay %s,"
                            + " kronecker-identity-every %d, aux-update %s%n",
                    spec.kind(), trim(s.fishLr()), trim(s.damping()), trim(s.auxLr()), s.updateAuxEvery(),
                    s.estimator().name().toLowerCase(Locale.ROOT), trim(s.klClip()), trim(s.scale()),
                    trim(s.beta()), trim(s.weightDecay()), s.normalization(), s.preconditionAux(),
                    s.uSampling().name().toLowerCase(Locale.ROOT), s.warmup(),
                    s.batchSpeedup(), s.kroneckerStart(), s.kroneckerEvery(),
                    s.momentumForm().name().toLowerCase(Locale.ROOT),
                    s.auxMoments().name().toLowerCase(Locale.ROOT),
                    s.auxStepScale().name().toLowerCase(Locale.ROOT), s.auxBurst(),
                    s.kroneckerLabels().name().toLowerCase(Locale.ROOT),
                    trim(s.kroneckerIdentityDecay()), s.kroneckerIdentityEvery(),
                    s.auxUpdate().name().toLowerCase(Locale.ROOT));
        } else if (spec.kind() == OptimizerKind.KFAC) {
            var s = spec.kfac();
            out.printf(Locale.ROOT, "%s: lr %s, damping %s, kl-clip %s, stat-decay %s, cov-every %d,"
                            + " inv-every %d, momentum %s, weight-decay %s, factor-init %s,"
                            + " damping-form %s, fisher-samples %d, fisher-labels %s%n",
                    spec.kind(), trim(s.lr()), trim(s.damping()), trim(s.klClip()), trim(s.statDecay()),
                    s.covEvery(), s.invEvery(), trim(s.momentum()), trim(s.weightDecay()),
                    s.factorInit().name().toLowerCase(Locale.ROOT),
                    s.dampingForm().name().toLowerCase(Locale.ROOT), s.fisherSamples(),
                    s.fisherLabels().name().toLowerCase(Locale.ROOT));
        } else if (spec.kind() == OptimizerKind.MUON) {
            var s = spec.muon();
            out.printf(Locale.ROOT, "%s: muon-lr %s, muon-momentum %s, muon-ns-steps %d, muon-scale %s,"
                            + " muon-layers %s, muon-adam-lr %s, muon-weight-decay %s%n",
                    spec.kind(), trim(s.lr()), trim(s.momentum()), s.nsSteps(),
                    s.stepScale().name().toLowerCase(Locale.ROOT), s.layers(), trim(s.adamLr()),
                    trim(s.weightDecay()));
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
        if (r.stopped() == RunResult.Stop.TIME_LIMIT) {
            out.printf(Locale.ROOT, "%s stopped by --time-limit at step %d, after %.1f s of training.%n",
                    r.optimizer(), r.steps(), r.trainSeconds());
        } else if (r.stopped() == RunResult.Stop.TARGET_REACHED) {
            out.printf(Locale.ROOT, "%s reached --target-loss at step %d; stopped there.%n", r.optimizer(), r.steps());
        }
        out.flush();
        if (r.checkpoint() != null) {
            out.printf(Locale.ROOT, "Checkpoint at step %d: %s%n", r.steps(), r.checkpoint());
            out.flush();
        }
    }

    /**
     * Prints, for several runs, the test loss of each optimizer side by side, then the summary.
     *
     * @param runs the runs
     * @param targetSource where the runs' target loss comes from, for the line above the summary
     */
    void comparison(List<RunResult> runs, String targetSource) {
        if (runs.size() > 1) {
            sideBySide(runs);
        }
        out.println();
        out.println("Summary");
        TimeToTarget.Result target = runs.get(0).target();
        if (target != null) {
            out.printf(Locale.ROOT, "Target  test loss %.4f (%s)%n", target.loss(), targetSource);
        }
        out.printf("%-9s %8s %8s %10s %9s %16s %15s%s %11s %11s %15s  %s%n", "optimizer", "epochs", "steps",
                "train_s", "ms/step", "final_train_loss", "final_test_loss",
                classifier ? String.format(" %14s", "final_accuracy") : "",
                "target_loss", "s_to_target", "steps_to_target", "status");
        for (RunResult r : runs) {
            MetricsRow last = r.last();
            TimeToTarget.Result t = r.target();
            TimeToTarget.Reached reached = t == null ? null : t.reached();
            out.printf(Locale.ROOT, "%-9s %8s %8d %10.1f %9.1f %16.4f %15.4f%s %11s %11s %15s  %s%n",
                    r.optimizer(), trim(r.epochs()), r.steps(), r.trainSeconds(),
                    r.steps() == 0 ? 0 : 1000 * r.trainSeconds() / r.steps(),
                    last == null ? Double.NaN : last.trainLoss(),
                    last == null ? Double.NaN : last.testLoss(),
                    classifier ? String.format(Locale.ROOT, " %14.4f", last == null ? Double.NaN : last.accuracy()) : "",
                    t == null ? "-" : String.format(Locale.ROOT, "%.4f", t.loss()),
                    reached == null ? "-" : String.format(Locale.ROOT, "%.1f", reached.seconds()),
                    reached == null ? "-" : String.format(Locale.ROOT, "%.1f", reached.steps()),
                    status(r));
        }
        out.flush();
    }

    private static String status(RunResult r) {
        if (r.stopped() == null) {
            return "ok";
        }
        return switch (r.stopped()) {
            case DIVERGED -> "diverged at step " + r.divergedAtStep();
            case TIME_LIMIT -> "stopped by --time-limit";
            case TARGET_REACHED -> "stopped at --target-loss";
        };
    }

    /** The test loss (and accuracy) of every optimizer at each evaluated step. */
    private void sideBySide(List<RunResult> runs) {
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

    /**
     * Prints in one line how much sooner one optimizer reached the runs' target than another (the
     * target being the second one's final test loss by default), or that it did not.
     *
     * @param runs the runs, with their target
     * @param first the optimizer measured
     * @param second the optimizer it is measured against
     * @param targetName what the target is ("Adam's final test loss"), for the sentence
     */
    void sooner(List<RunResult> runs, OptimizerKind first, OptimizerKind second, String targetName) {
        out.println();
        out.println(soonerLine(runs, first, second, targetName));
        out.flush();
    }

    /**
     * @param runs the runs, with their target
     * @param first the optimizer measured
     * @param second the optimizer it is measured against
     * @param targetName what the target is, for the sentence
     * @return the sentence {@link #sooner} prints
     */
    static String soonerLine(List<RunResult> runs, OptimizerKind first, OptimizerKind second, String targetName) {
        RunResult a = find(runs, first);
        RunResult b = find(runs, second);
        if (a == null || b == null || a.target() == null) {
            return "No time to target to compare: " + targetName + " is not a finite number.";
        }
        String what = String.format(Locale.ROOT, "%s %.2f", targetName, a.target().loss());
        TimeToTarget.Reached ra = a.target().reached();
        TimeToTarget.Reached rb = b.target().reached();
        if (ra == null) {
            return String.format(Locale.ROOT, "%s did not reach %s in its %d steps (%.1f s)%s.", first.displayName(),
                    what, a.steps(), a.trainSeconds(), rb == null ? ""
                            : String.format(Locale.ROOT, "; %s reached it in %.1f s", second.displayName(), rb.seconds()));
        }
        if (rb == null) {
            return String.format(Locale.ROOT, "%s reached %s in %.1f s; %s never did.", first.displayName(), what,
                    ra.seconds(), second.displayName());
        }
        String verdict = ra.seconds() < rb.seconds()
                ? String.format(Locale.ROOT, "%.2fx sooner", rb.seconds() / ra.seconds())
                : String.format(Locale.ROOT, "not sooner (%.2fx the time)", ra.seconds() / rb.seconds());
        return String.format(Locale.ROOT, "%s reached %s in %.1f s, %s in %.1f s: %s.", first.displayName(), what,
                ra.seconds(), second.displayName(), rb.seconds(), verdict);
    }

    private static RunResult find(List<RunResult> runs, OptimizerKind kind) {
        return runs.stream().filter(r -> r.optimizer() == kind).findFirst().orElse(null);
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
