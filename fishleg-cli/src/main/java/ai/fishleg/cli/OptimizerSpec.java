package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.optim.Hyperparameters;
import ai.fishleg.tasks.BaselineSettings;

/**
 * An optimizer with the settings it will run with.
 *
 * @param kind which optimizer
 * @param fishLeg FishLeg settings (used when kind is FISHLEG)
 * @param baseline Adam/SGD settings (used otherwise)
 */
record OptimizerSpec(OptimizerKind kind, Hyperparameters fishLeg, BaselineSettings baseline) {

    /**
     * @param model the initialised network
     * @param likelihood the task's likelihood
     * @param auxData random training batches (FishLeg's auxiliary data)
     * @param seed the run's seed
     * @return the optimizer, ready for the loop
     */
    StepRule create(Block model, FishLikelihood likelihood, BatchSource auxData, long seed) {
        if (kind == OptimizerKind.FISHLEG) {
            return new FishLegRule(model, likelihood, auxData, fishLeg, seed);
        }
        return new DjlRule(kind, model, baseline);
    }
}
