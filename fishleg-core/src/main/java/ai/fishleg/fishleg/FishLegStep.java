package ai.fishleg.fishleg;

import ai.fishleg.core.StepReport;

/**
 * What one FishLeg step did, as {@link FishLeg#lastStep()} publishes it after the step.
 *
 * @param step the step's index (0 for the first step)
 * @param auxUpdates how many auxiliary updates of λ ran in the step (by the schedule of {@code
 *     updateAuxEvery} and {@code auxBurst}; 0 when the step reused the stored gradient's λ)
 * @param qRenewed whether Q was renewed from K-FAC's factors after the step ({@code
 *     kroneckerEvery})
 * @param skipped whether the step was skipped under {@code NonFinitePolicy.SKIP} (parameters and
 *     momentum untouched; auxiliary updates that ran before the check stay)
 * @param clipFactor the klClip factor ν of the parameter step (1 when not clipped or skipped)
 * @param factoredBlocks how many blocks took their natural gradient from the recorded batch's
 *     factors ({@code batchSpeedup}) instead of the gradient
 */
public record FishLegStep(
        long step,
        int auxUpdates,
        boolean qRenewed,
        boolean skipped,
        double clipFactor,
        int factoredBlocks) implements StepReport {}
