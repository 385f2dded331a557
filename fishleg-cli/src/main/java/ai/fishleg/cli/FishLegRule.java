package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.fishleg.ProbeDirections;
import ai.fishleg.fishleg.QualityProbe;
import ai.fishleg.tasks.Task;
import ai.djl.ndarray.index.NDIndex;
import ai.fishleg.data.LabeledBatch;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** FishLeg in the training loop. */
final class FishLegRule extends CurvatureRule<FishLeg> {

    private static final Logger LOG = LoggerFactory.getLogger(FishLegRule.class);
    /** Test examples the quality probe estimates F̂ on. */
    private static final int HELD_OUT = 1000;
    /** Directions of each kind, and held-out batches whose gradients are directions. */
    private static final int PROBE_DIRECTIONS = 4;
    /** Test examples per gradient direction (after the first {@value #HELD_OUT}). */
    private static final int GRADIENT_BATCH = 100;

    private final int qualityEvery;
    private QualityProbe probe;

    /**
     * @param model the initialised network (every layer with parameters must be one FishLeg can
     *     manage; see {@link Experiment#requireFishLegSupport})
     * @param likelihood the task's likelihood
     * @param draw draws labels from the model (the likelihood's, or the Spark examples')
     * @param nll the loss of FishLeg's own passes
     * @param auxData random training batches for the auxiliary updates
     * @param settings the settings
     * @param seed seed of the optimizer's generator
     * @param qualityEvery steps between two quality probes (0: none)
     */
    FishLegRule(Block model, FishLikelihood likelihood, DrawFunction draw, NllFunction nll,
            BatchSource auxData, Hyperparameters settings, long seed, int qualityEvery) {
        super(build(model, likelihood, draw, nll, auxData, settings, seed));
        this.qualityEvery = qualityEvery;
    }

    /**
     * Every {@code qualityEvery} steps, and after the first, logs the {@link QualityProbe}'s
     * errors with F̂ on the first {@value #HELD_OUT} test examples, along {@value
     * #PROBE_DIRECTIONS} Gaussian directions and along the gradients of {@value
     * #PROBE_DIRECTIONS} held-out batches with their observed labels: the next {@value
     * #GRADIENT_BATCH} test examples each when the test split has them, else F̂'s own examples
     * split into {@value #PROBE_DIRECTIONS} parts.
     */
    @Override
    public void afterStep(long step, Task.Split heldOut) {
        if (qualityEvery <= 0 || (step % qualityEvery != 0 && step != 1)) {
            return;
        }
        if (probe == null) {
            probe = probe(heldOut);
        }
        QualityProbe.Report g = probe.measure(ProbeDirections.GAUSSIAN);
        QualityProbe.Report d = probe.measure(ProbeDirections.GRADIENT);
        LOG.info(String.format(Locale.ROOT, "quality at step %d (%d auxiliary updates):"
                + " ‖Q(F̂+γI)v − v‖/‖v‖ = %.4f learned, %.4f K-FAC's inverse (Gaussian v);"
                + " %.4f learned, %.4f K-FAC's inverse (held-out gradients v)", g.step(),
                g.auxUpdates(), g.learned(), g.kfac(), d.learned(), d.kfac()));
    }

    private QualityProbe probe(Task.Split heldOut) {
        long n = Math.min(HELD_OUT, heldOut.size());
        LabeledBatch fisher = rows(heldOut, 0, n);
        if (heldOut.size() < n + (long) PROBE_DIRECTIONS * GRADIENT_BATCH) {
            return optimizer.qualityProbe(fisher, PROBE_DIRECTIONS, 1);
        }
        List<LabeledBatch> gradients = new ArrayList<>();
        for (int d = 0; d < PROBE_DIRECTIONS; d++) {
            gradients.add(rows(heldOut, n + (long) d * GRADIENT_BATCH,
                    n + (long) (d + 1) * GRADIENT_BATCH));
        }
        return optimizer.qualityProbe(fisher, gradients, PROBE_DIRECTIONS, 1);
    }

    private static LabeledBatch rows(Task.Split split, long from, long to) {
        NDIndex rows = new NDIndex(from + ":" + to);
        return LabeledBatch.of(split.inputs().get(rows), split.targets().get(rows));
    }

    private static FishLeg build(Block model, FishLikelihood likelihood, DrawFunction draw,
            NllFunction nll, BatchSource auxData, Hyperparameters settings, long seed) {
        return FishLeg.builder(model, draw, nll, auxData)
                .settings(settings)
                .seed(seed)
                .likelihood(likelihood)
                .warmupData(auxData) // the warm-up (settings.warmup() > 0) uses training batches
                .warmupLoss(nll)
                .build();
    }

    /** Every field of the optimizer's {@link Hyperparameters}, by its library name. */
    @Override
    public Map<String, Object> hyperparameters() {
        Map<String, Object> out = new LinkedHashMap<>();
        optimizer.getHyperparameters().asMap().forEach((name, v) -> out.put(name,
                v instanceof Enum<?> e ? e.name().toLowerCase(java.util.Locale.ROOT) : v));
        return out;
    }

    /** Auxiliary updates taken and skipped (cumulative). */
    @Override
    void moreStatistics(Map<String, Object> out) {
        out.put("auxUpdates", optimizer.getAuxUpdateCount());
        out.put("skippedAuxUpdates", optimizer.getSkippedAuxUpdates());
    }
}
