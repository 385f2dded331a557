package ai.fishleg.core;

/**
 * What one step of a {@link CurvatureOptimizer} did, as its {@link CurvatureOptimizer#lastStep()}
 * publishes it after the step: an immutable record per optimizer ({@link
 * ai.fishleg.fishleg.FishLegStep}, {@link ai.fishleg.kfac.KfacStep}) with these facts in common and
 * its own curvature work besides.
 */
public interface StepReport {

    /** @return the step's index (0 for the first step) */
    long step();

    /** @return whether the step was skipped under {@link NonFinitePolicy#SKIP} (parameters untouched) */
    boolean skipped();

    /** @return the klClip factor ν of the parameter step (1 when not clipped, and for a skipped step) */
    double clipFactor();

    /**
     * @return how many layers took their natural gradient from the rows of the recorded batch
     *     (inputs and output gradients) instead of the gradient matrix, for a batch smaller than
     *     the layer
     */
    int factoredBlocks();
}
