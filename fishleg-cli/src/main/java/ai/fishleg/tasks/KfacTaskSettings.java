package ai.fishleg.tasks;

import ai.fishleg.kfac.DampingForm;
import ai.fishleg.kfac.FactorInit;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.kfac.Kfac;

/**
 * K-FAC's settings for a task (see {@link Kfac.Builder} for what each one does). Every other
 * setting of the library (the momentum form, the non-finite policy, the layers) keeps the
 * library's default.
 *
 * @param lr learning rate η
 * @param damping γ of the factored Tikhonov damping
 * @param statDecay weight of the old factors in their moving averages
 * @param covEvery a statistics update every this many steps
 * @param invEvery an inversion of the damped factors every this many steps
 * @param klClip κ of the trust region (0: off)
 * @param momentum β
 * @param weightDecay weight decay per step
 * @param factorInit what the factors' moving averages start from
 * @param dampingForm how the curvature is damped before it is inverted
 * @param fisherSamples labels drawn per example of a statistics batch
 * @param fisherLabels the labels of the statistics pass (drawn: the true Fisher; observed: the
 *     empirical Fisher)
 */
public record KfacTaskSettings(double lr, double damping, double statDecay, int covEvery,
        int invEvery, double klClip, double momentum, double weightDecay, FactorInit factorInit,
        DampingForm dampingForm, int fisherSamples, FisherLabels fisherLabels) {

    /** Validates the values; each message names the command-line option. */
    public KfacTaskSettings {
        check(lr > 0 && Double.isFinite(lr), "--lr must be a finite number > 0, got " + lr);
        check(damping > 0 && Double.isFinite(damping),
                "--damping must be a finite number > 0, got " + damping);
        check(statDecay >= 0 && statDecay < 1, "--stat-decay must be in [0, 1), got " + statDecay);
        check(covEvery >= 1, "--cov-every must be >= 1 (a statistics update every N steps), got "
                + covEvery);
        check(invEvery >= 1, "--inv-every must be >= 1 (an inversion every N steps), got "
                + invEvery);
        check(klClip >= 0 && Double.isFinite(klClip),
                "--kl-clip must be a finite number >= 0 (0: off), got " + klClip);
        check(momentum >= 0 && momentum < 1, "--momentum must be in [0, 1), got " + momentum);
        check(weightDecay >= 0 && weightDecay < 1,
                "--weight-decay must be in [0, 1) for K-FAC, got " + weightDecay);
        check(factorInit != null, "--factor-init must be given");
        check(dampingForm != null, "--damping-form must be given");
        check(fisherSamples >= 1, "--fisher-samples must be >= 1 (labels drawn per example), got "
                + fisherSamples);
        check(fisherLabels != null, "--fisher-labels must be given");
        check(fisherLabels == FisherLabels.DRAWN || fisherSamples == 1,
                "--fisher-samples " + fisherSamples + " draws labels several times per example;"
                        + " with --fisher-labels observed nothing is drawn, so it must be 1");
    }

    /**
     * The starting point of every K-FAC preset, and the library's defaults: statDecay, covEvery,
     * invEvery and momentum as in the well-known PyTorch K-FAC implementations, with the step
     * size, damping, klClip and weight decay K-FAC was first measured with on the auto-encoder.
     *
     * @return lr 3e-3, damping 0.03, statDecay 0.95, covEvery 10, invEvery 100, klClip 0.01,
     *     momentum 0.9, weightDecay 1e-5, the factors starting at their first estimate and the
     *     factored damping, one label drawn per example
     */
    public static KfacTaskSettings standard() {
        return new KfacTaskSettings(3e-3, 0.03, 0.95, 10, 100, 0.01, 0.9, 1e-5,
                FactorInit.FIRST_ESTIMATE, DampingForm.FACTORED, 1,
                FisherLabels.DRAWN);
    }

    /**
     * @param lr the learning rate
     * @param damping the damping
     * @return these settings with another learning rate and damping
     */
    public KfacTaskSettings with(double lr, double damping) {
        return new KfacTaskSettings(lr, damping, statDecay, covEvery, invEvery, klClip, momentum,
                weightDecay, factorInit, dampingForm, fisherSamples, fisherLabels);
    }

    /**
     * @param init what the factors' averages start from
     * @param form the damping form
     * @return these settings with another start and damping form
     */
    public KfacTaskSettings with(FactorInit init, DampingForm form) {
        return new KfacTaskSettings(lr, damping, statDecay, covEvery, invEvery, klClip, momentum,
                weightDecay, init, form, fisherSamples, fisherLabels);
    }

    /**
     * @param builder a K-FAC builder
     * @return the builder with these settings
     */
    public Kfac.Builder configure(Kfac.Builder builder) {
        return builder.lr(lr).damping(damping).statDecay(statDecay).covEvery(covEvery)
                .invEvery(invEvery).klClip(klClip).momentum(momentum).weightDecay(weightDecay)
                .factorInit(factorInit).dampingForm(dampingForm).fisherSamples(fisherSamples)
                .fisherLabels(fisherLabels);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
