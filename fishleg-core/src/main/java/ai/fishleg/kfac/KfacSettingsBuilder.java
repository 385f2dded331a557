package ai.fishleg.kfac;

import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.likelihood.FisherLabels;
import java.util.List;
import java.util.Objects;

/**
 * K-FAC's settings as a builder: every setting with its default and its range, checked in one
 * place when the optimizer is built. {@link Kfac.Builder} adds the model and the functions.
 *
 * @param <B> the concrete builder, returned by every setter
 */
public abstract class KfacSettingsBuilder<B extends KfacSettingsBuilder<B>> {
    private double lr = 3e-3;
    private double damping = 0.03;
    private double statDecay = 0.95;
    private int covEvery = 10;
    private int invEvery = 100;
    private double klClip = 0.01;
    private double momentum = 0.9;
    private double weightDecay = 1e-5;
    private ParameterStep.Momentum momentumForm = ParameterStep.Momentum.HEAVY_BALL;
    private FactorInit factorInit = FactorInit.FIRST_ESTIMATE;
    private DampingForm dampingForm = DampingForm.FACTORED;
    private int fisherSamples = 1;
    private FisherLabels fisherLabels = FisherLabels.DRAWN;
    private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.THROW;
    private List<String> moduleNames = List.of();
    private List<String> skipNames = List.of();


    /** Only {@link Kfac.Builder} extends this. */
    KfacSettingsBuilder() {}

    /** @return this builder, as its concrete type */
    abstract B self();

    /** @param v learning rate η, finite and >= 0 (default 3e-3) @return this */
    public B lr(double v) {
        this.lr = v;
        return self();
    }

    /** @param v damping γ > 0 of the Tikhonov damping (default 0.03) @return this */
    public B damping(double v) {
        this.damping = v;
        return self();
    }

    /**
     * @param v weight of the old factors in the moving averages, in [0, 1) (default 0.95)
     * @return this
     */
    public B statDecay(double v) {
        this.statDecay = v;
        return self();
    }

    /** @param v a statistics update every v >= 1 steps (default 10) @return this */
    public B covEvery(int v) {
        this.covEvery = v;
        return self();
    }

    /** @param v an inversion of the damped factors every v >= 1 steps (default 100) @return this */
    public B invEvery(int v) {
        this.invEvery = v;
        return self();
    }

    /**
     * @param v κ >= 0 of the trust region ν = min(1, √(κ / (η² |⟨m, g⟩|))); 0 turns it off
     *     (default 0.01)
     * @return this
     */
    public B klClip(double v) {
        this.klClip = v;
        return self();
    }

    /** @param v momentum β in [0, 1) (default 0.9) @return this */
    public B momentum(double v) {
        this.momentum = v;
        return self();
    }

    /**
     * @param v weight decay per step, in [0, 1): added as v·p to the step in the HEAVY_BALL
     *     form, p ← p(1 − v) − ... in the AVERAGE form (default 1e-5)
     * @return this
     */
    public B weightDecay(double v) {
        this.weightDecay = v;
        return self();
    }

    /**
     * @param v how the momentum accumulates: HEAVY_BALL (default; m ← βm + νn + wd·p, as the
     *     PyTorch K-FAC implementations) or AVERAGE (m ← βm + (1−β)n, FishLeg's form)
     * @return this
     */
    public B momentumForm(ParameterStep.Momentum v) {
        this.momentumForm = Objects.requireNonNull(v, "momentumForm");
        return self();
    }

    /**
     * @param v what the factors' moving averages start from: FIRST_ESTIMATE (default; the first
     *     update takes the estimate) or IDENTITY (the PyTorch K-FAC's start, statDecay·I + (1 −
     *     statDecay)·estimate at the first update)
     * @return this
     */
    public B factorInit(FactorInit v) {
        this.factorInit = Objects.requireNonNull(v, "factorInit");
        return self();
    }

    /**
     * @param v how the curvature is damped: FACTORED (default; (A + π√γI)⁻¹ ⊗ (G + √γ/πI)⁻¹) or
     *     EIGEN (the exact (A ⊗ G + γI)⁻¹ through eigendecompositions, as the PyTorch K-FAC)
     * @return this
     */
    public B dampingForm(DampingForm v) {
        this.dampingForm = Objects.requireNonNull(v, "dampingForm");
        return self();
    }

    /**
     * @param v labels drawn from the model per example of a statistics batch, >= 1 (default 1, as
     *     the PyTorch K-FAC): G averages over all of them, a less noisy estimate at the cost of a
     *     statistics pass on v times the rows
     * @return this
     */
    public B fisherSamples(int v) {
        this.fisherSamples = v;
        return self();
    }

    /**
     * @param v the labels of the statistics pass: DRAWN from the model (default, the true
     *     Fisher, as the PyTorch K-FAC) or the batch's OBSERVED ones (the empirical Fisher; only
     *     with {@code fisherSamples} 1)
     * @return this
     */
    public B fisherLabels(FisherLabels v) {
        this.fisherLabels = Objects.requireNonNull(v, "fisherLabels");
        return self();
    }

    /**
     * @param v what a step does on a non-finite value: THROW (default) or SKIP; either way
     *     nothing non-finite is written
     * @return this
     */
    public B nonFinitePolicy(NonFinitePolicy v) {
        this.nonFinitePolicy = Objects.requireNonNull(v, "nonFinitePolicy");
        return self();
    }

    /**
     * @param names layers to consider for K-FAC blocks, as FishLeg's moduleNames (default
     *     empty: all); the others take momentum SGD
     * @return this
     */
    public B moduleNames(List<String> names) {
        this.moduleNames = List.copyOf(names);
        return self();
    }

    /**
     * @param names layers whose dotted name contains one of these take momentum SGD
     * @return this
     */
    public B skipNames(List<String> names) {
        this.skipNames = List.copyOf(names);
        return self();
    }

    final KfacSettings settings() {
        check(Double.isFinite(lr) && lr >= 0, "lr must be a finite number >= 0, got " + lr);
        check(Double.isFinite(damping) && damping > 0,
                "damping must be a finite number > 0, got " + damping);
        check(statDecay >= 0 && statDecay < 1, "statDecay must be in [0, 1), got " + statDecay);
        check(covEvery >= 1, "covEvery must be >= 1, got " + covEvery);
        check(invEvery >= 1, "invEvery must be >= 1, got " + invEvery);
        check(fisherSamples >= 1, "fisherSamples must be >= 1 (labels drawn per example), got "
                + fisherSamples);
        check(fisherLabels == FisherLabels.DRAWN || fisherSamples == 1,
                "fisherSamples " + fisherSamples + " draws labels several times per example;"
                        + " with fisherLabels OBSERVED nothing is drawn, so it must be 1");
        check(Double.isFinite(klClip) && klClip >= 0,
                "klClip must be a finite number >= 0 (0 turns it off), got " + klClip);
        check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
        check(weightDecay >= 0 && weightDecay < 1,
                "weightDecay must be in [0, 1), got " + weightDecay);
        return new KfacSettings(lr, damping, statDecay, covEvery, invEvery, klClip, momentum,
                weightDecay, momentumForm, factorInit, dampingForm, fisherSamples, fisherLabels,
                nonFinitePolicy,
                moduleNames, skipNames);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
