package ai.fishleg.tasks;

/**
 * Settings of a first-order baseline (DJL's Adam or SGD).
 *
 * @param lr learning rate
 * @param momentum SGD momentum (ignored by Adam)
 * @param weightDecay L2 weight decay as DJL applies it (added to the gradient)
 */
public record BaselineSettings(double lr, double momentum, double weightDecay) {

    /** Adam's decay of the mean of the gradients (DJL's default, set explicitly). */
    public static final double ADAM_BETA1 = 0.9;
    /** Adam's decay of the mean of the squared gradients (DJL's default, set explicitly). */
    public static final double ADAM_BETA2 = 0.999;
    /** Adam's ε, added to the root of the second moment (DJL's default, set explicitly). */
    public static final double ADAM_EPS = 1e-8;

    /** Validates the values. */
    public BaselineSettings {
        if (!(lr > 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("--lr must be a finite number > 0, got " + lr);
        }
        if (!(momentum >= 0 && momentum < 1)) {
            throw new IllegalArgumentException("--momentum must be in [0, 1), got " + momentum);
        }
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
            throw new IllegalArgumentException(
                    "--weight-decay must be a finite number >= 0, got " + weightDecay);
        }
    }
}
