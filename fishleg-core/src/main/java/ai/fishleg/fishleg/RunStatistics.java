package ai.fishleg.fishleg;

/**
 * The counters of a FishLeg run: steps, auxiliary updates, what was skipped, and the last
 * auxiliary result. The parts of the optimizer record into it; the facade reads it for its
 * getters and the checkpoint saves it. (The clip statistics belong to {@link ParameterStep}.)
 */
final class RunStatistics {

    private long steps;
    private long auxUpdates;
    private double auxLoss = Double.NaN;
    private AuxInfo lastAuxInfo;
    private long skippedSteps;
    private long skippedAuxUpdates;
    private int lastFactoredBlocks;

    /** @return completed steps */
    long steps() {
        return steps;
    }

    /** Counts a completed step. */
    void stepDone() {
        steps++;
    }

    /** @return auxiliary Adam steps taken */
    long auxUpdates() {
        return auxUpdates;
    }

    /** @return the loss of the last auxiliary update that trained λ (NaN before the first) */
    double auxLoss() {
        return auxLoss;
    }

    /**
     * Counts an auxiliary Adam step.
     *
     * @param loss its auxiliary loss
     */
    void auxUpdated(double loss) {
        auxUpdates++;
        auxLoss = loss;
    }

    /** @return the result of the last auxiliary evaluation, or null */
    AuxInfo lastAuxInfo() {
        return lastAuxInfo;
    }

    /** @param info the result of the last auxiliary evaluation */
    void setLastAuxInfo(AuxInfo info) {
        lastAuxInfo = info;
    }

    /** @return steps skipped for a non-finite value */
    long skippedSteps() {
        return skippedSteps;
    }

    /** @return the new count, after counting one skipped step */
    long stepSkipped() {
        return ++skippedSteps;
    }

    /** @return auxiliary updates skipped for a non-finite loss or λ-gradient */
    long skippedAuxUpdates() {
        return skippedAuxUpdates;
    }

    /** @return the new count, after counting one skipped auxiliary update */
    long auxSkipped() {
        return ++skippedAuxUpdates;
    }

    /** @return blocks whose natural gradient the last step took from gradient factors */
    int lastFactoredBlocks() {
        return lastFactoredBlocks;
    }

    /** @param n blocks whose natural gradient this step took from gradient factors */
    void setLastFactoredBlocks(int n) {
        lastFactoredBlocks = n;
    }

    /**
     * Sets the counters of a resumed run.
     *
     * @param steps completed steps
     * @param auxUpdates auxiliary Adam steps
     * @param skippedSteps skipped steps
     * @param skippedAuxUpdates skipped auxiliary updates
     * @param auxLoss the last auxiliary loss
     */
    void restore(long steps, long auxUpdates, long skippedSteps, long skippedAuxUpdates,
            double auxLoss) {
        this.steps = steps;
        this.auxUpdates = auxUpdates;
        this.skippedSteps = skippedSteps;
        this.skippedAuxUpdates = skippedAuxUpdates;
        this.auxLoss = auxLoss;
    }
}
