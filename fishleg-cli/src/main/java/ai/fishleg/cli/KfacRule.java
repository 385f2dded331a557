package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.KfacSettings;
import ai.fishleg.kfac.KroneckerFactoredBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.tasks.KfacTaskSettings;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** K-FAC in the training loop. */
final class KfacRule extends CurvatureRule<Kfac> {

    /**
     * @param model the initialised network (its Linear and Conv2d layers Recording ones, as the
     *     built-in tasks' are)
     * @param draw draws the labels of the statistics pass (the task's likelihood)
     * @param nll the loss of the statistics pass
     * @param curvatureData random training batches for the statistics passes
     * @param settings the settings
     */
    KfacRule(Block model, DrawFunction draw, NllFunction nll, BatchSource curvatureData,
            KfacTaskSettings settings) {
        super(settings.configure(Kfac.builder(model, draw, nll, curvatureData)).build());
    }

    /** The settings in force, as the library names them (the library's defaults included). */
    @Override
    public Map<String, Object> hyperparameters() {
        KfacSettings s = optimizer.getSettings();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("lr", s.lr());
        out.put("damping", s.damping());
        out.put("statDecay", s.statDecay());
        out.put("covEvery", s.covEvery());
        out.put("invEvery", s.invEvery());
        out.put("klClip", s.klClip());
        out.put("momentum", s.momentum());
        out.put("weightDecay", s.weightDecay());
        out.put("momentumForm", s.momentumForm().name().toLowerCase(Locale.ROOT));
        out.put("factorInit", s.factorInit().name().toLowerCase(Locale.ROOT));
        out.put("dampingForm", s.dampingForm().name().toLowerCase(Locale.ROOT));
        out.put("fisherSamples", s.fisherSamples());
        out.put("fisherLabels", s.fisherLabels().name().toLowerCase(Locale.ROOT));
        out.put("nonFinitePolicy", s.nonFinitePolicy().name().toLowerCase(Locale.ROOT));
        return out;
    }

    /** Per K-FAC layer its statistics updates and inversions. */
    @Override
    void moreStatistics(Map<String, Object> out) {
        Map<String, Object> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : optimizer.getBlocks()) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("factorUpdates", b.getFactorUpdates());
            one.put("inversions", b.getInversions());
            blocks.put(b.getName(), one);
        }
        out.put("blocks", blocks);
    }
}
