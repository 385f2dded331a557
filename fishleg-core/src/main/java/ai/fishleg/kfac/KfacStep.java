package ai.fishleg.kfac;

import ai.fishleg.core.StepReport;

/**
 * What one K-FAC step did, as {@link Kfac#lastStep()} publishes it after the step.
 *
 * @param step the step's index (0 for the first step)
 * @param statisticsUpdated whether the Kronecker factors were re-estimated (every covEvery steps)
 * @param inversesRenewed whether their damped inverses were recomputed (every invEvery steps)
 * @param skipped whether the step was skipped under {@code NonFinitePolicy.SKIP} (nothing written)
 * @param clipFactor the klClip factor of the parameter step (1 when not clipped)
 * @param factoredBlocks how many layers took their natural gradient from the activation form
 *     (rows of the batch instead of the gradient matrix), for a batch smaller than the layer
 */
public record KfacStep(
        long step,
        boolean statisticsUpdated,
        boolean inversesRenewed,
        boolean skipped,
        double clipFactor,
        int factoredBlocks) implements StepReport {}
