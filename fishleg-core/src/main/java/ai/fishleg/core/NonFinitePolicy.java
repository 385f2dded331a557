package ai.fishleg.core;

/** What {@link FishLeg#step()} does when a gradient, natural gradient or new parameter is not finite. */
public enum NonFinitePolicy {
    /** Throw a {@link NonFiniteException}; parameters and momentum stay as before the step. */
    THROW,
    /** Skip the step (nothing is written), count it ({@link FishLeg#getSkippedSteps()}), log it. */
    SKIP
}
