package ai.fishleg.cli;

import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.tasks.BaselineSettings;
import ai.fishleg.tasks.KfacTaskSettings;
import ai.fishleg.tasks.MuonSettings;

/**
 * An optimizer with the settings it will run with.
 *
 * @param kind which optimizer
 * @param fishLeg FishLeg settings (used when kind is FISHLEG)
 * @param baseline Adam/SGD settings (used when kind is ADAM or SGD)
 * @param kfac K-FAC settings (used when kind is KFAC)
 * @param muon Muon settings (used when kind is MUON)
 * @param qualityEvery FishLeg: steps between two quality probes (0: none)
 */
record OptimizerSpec(OptimizerKind kind, Hyperparameters fishLeg, BaselineSettings baseline, KfacTaskSettings kfac,
        MuonSettings muon, int qualityEvery) {

    /**
     * @param kind which optimizer (not MUON)
     * @param fishLeg FishLeg settings (used when kind is FISHLEG)
     * @param baseline Adam/SGD settings (used when kind is ADAM or SGD)
     * @param kfac K-FAC settings (used when kind is KFAC)
     */
    OptimizerSpec(OptimizerKind kind, Hyperparameters fishLeg, BaselineSettings baseline, KfacTaskSettings kfac) {
        this(kind, fishLeg, baseline, kfac, null, 0);
    }

    /**
     * @param kind which optimizer (not KFAC)
     * @param fishLeg FishLeg settings (used when kind is FISHLEG)
     * @param baseline Adam/SGD settings (used otherwise)
     */
    OptimizerSpec(OptimizerKind kind, Hyperparameters fishLeg, BaselineSettings baseline) {
        this(kind, fishLeg, baseline, null);
    }

    /**
     * @param model the initialised network
     * @param likelihood the task's likelihood
     * @param auxData random training batches (FishLeg's auxiliary data, K-FAC's curvature data)
     * @param seed the run's seed
     * @return the optimizer, ready for the loop
     */
    StepRule create(Block model, FishLikelihood likelihood, BatchSource auxData, long seed) {
        return create(model, likelihood, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                auxData, seed);
    }

    /**
     * {@link #create(Block, FishLikelihood, BatchSource, long)} with the optimizer's own draw and
     * loss (with {@code --spark}, those of the executors' examples).
     */
    StepRule create(Block model, FishLikelihood likelihood, DrawFunction draw, NllFunction nll,
            BatchSource auxData, long seed) {
        if (kind == OptimizerKind.FISHLEG) {
            return new FishLegRule(model, likelihood, draw, nll, auxData, fishLeg, seed, qualityEvery);
        }
        if (kind == OptimizerKind.KFAC) {
            return new KfacRule(model, draw, nll, auxData, kfac);
        }
        if (kind == OptimizerKind.MUON) {
            return new MuonRule(model, muon);
        }
        return new DjlRule(kind, model, baseline);
    }
}
