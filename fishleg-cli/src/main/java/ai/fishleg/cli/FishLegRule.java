package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import java.util.LinkedHashMap;
import java.util.Map;

/** FishLeg in the training loop. */
final class FishLegRule extends CurvatureRule<FishLeg> {

    /**
     * @param model the initialised network (every layer with parameters must be one FishLeg can
     *     manage; see {@link Experiment#requireFishLegSupport})
     * @param likelihood the task's likelihood
     * @param draw draws labels from the model (the likelihood's, or the Spark examples')
     * @param nll the loss of FishLeg's own passes
     * @param auxData random training batches for the auxiliary updates
     * @param settings the settings
     * @param seed seed of the optimizer's generator
     */
    FishLegRule(Block model, FishLikelihood likelihood, DrawFunction draw, NllFunction nll,
            BatchSource auxData, Hyperparameters settings, long seed) {
        super(build(model, likelihood, draw, nll, auxData, settings, seed));
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
