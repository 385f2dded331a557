package ai.fishleg.muon;

import ai.fishleg.core.StepReport;

/**
 * What one Muon step did, as {@link Muon#lastStep()} publishes it: Muon has no non-finite guard,
 * no trust region and no recorded-batch form, so only the step's index varies.
 *
 * @param step the step's index (0 for the first step)
 */
public record MuonStep(long step) implements StepReport {

    /** @return false: Muon skips no step */
    @Override
    public boolean skipped() {
        return false;
    }

    /** @return 1: Muon has no trust region */
    @Override
    public double clipFactor() {
        return 1;
    }

    /** @return 0: Muon works on the gradients */
    @Override
    public int factoredBlocks() {
        return 0;
    }
}
