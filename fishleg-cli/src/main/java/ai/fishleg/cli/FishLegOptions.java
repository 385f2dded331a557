package ai.fishleg.cli;

import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.fishleg.USampling;
import ai.fishleg.likelihood.FisherLabels;
import picocli.CommandLine.Option;

/** FishLeg's settings on the command line; each one left out keeps the task's preset. */
final class FishLegOptions {

    @Option(names = "--fish-lr", paramLabel = "ETA", description = "FishLeg step size η of the parameters.")
    Double fishLr;

    @Option(names = "--damping", paramLabel = "GAMMA",
            description = "Damping γ: of the Fisher (FishLeg), of the Kronecker factors (K-FAC).")
    Double damping;

    @Option(names = "--aux-lr", paramLabel = "LR", description = "Learning rate of the auxiliary Adam that learns Q.")
    Double auxLr;

    @Option(names = "--update-aux-every", paramLabel = "K",
            description = "One auxiliary update every K steps (K < 0: |K| per step; 0: never).")
    Integer updateAuxEvery;

    @Option(names = "--scale", paramLabel = "S", description = "Initial scale of Q (Q0 = S·I).")
    Double scale;

    @Option(names = "--beta", paramLabel = "B", description = "Momentum of FishLeg's natural gradient.")
    Double beta;

    @Option(names = "--fish-weight-decay", paramLabel = "WD", description = "FishLeg's decoupled weight decay per step.")
    Double weightDecay;

    @Option(names = "--normalization", negatable = true, paramLabel = "",
            description = "Divide the auxiliary loss by ‖u‖² (--no-normalization: do not).")
    Boolean normalization;

    @Option(names = "--warmup", paramLabel = "N",
            description = "Examples whose squared gradients set the initial diagonal of Q (0: Q0 = scale·I).")
    Integer warmup;

    @Option(names = "--kronecker-start", paramLabel = "N",
            description = "Batches from which K-FAC's factors are estimated to start Q at K-FAC's"
                    + " damped inverse (0: off).")
    Integer kroneckerStart;

    @Option(names = "--kronecker-every", paramLabel = "N",
            description = "With --kronecker-start: set Q to K-FAC's damped inverse again after every"
                    + " N steps (0: only at the start).")
    Integer kroneckerEvery;

    @Option(names = "--kronecker-labels", paramLabel = "L",
            description = "With --kronecker-start: the labels of its statistics passes:"
                    + " ${COMPLETION-CANDIDATES} (drawn: from the model, the Fisher; observed: the"
                    + " auxiliary batch's own, the empirical Fisher).")
    FisherLabels kroneckerLabels;

    @Option(names = "--kronecker-identity-decay", paramLabel = "D",
            description = "With --kronecker-start: blend its factors with the identity, share"
                    + " D^(1 + floor(t/E)) at a start after t steps (K-FAC's identity start with"
                    + " stat-decay D, cov-every E; 0: off).")
    Double kroneckerIdentityDecay;

    @Option(names = "--kronecker-identity-every", paramLabel = "E",
            description = "Steps per decay of the identity's share (see --kronecker-identity-decay).")
    Integer kroneckerIdentityEvery;

    @Option(names = "--estimator", paramLabel = "E",
            description = "How the auxiliary loss estimates F·V: ${COMPLETION-CANDIDATES}.")
    Estimator estimator;

    @Option(names = "--precondition-aux", negatable = true,
            description = "Precondition the auxiliary gradient with Q (--no-precondition-aux: do not).")
    Boolean preconditionAux;

    @Option(names = "--u-sampling", paramLabel = "U",
            description = "Direction Q learns along: ${COMPLETION-CANDIDATES}.")
    USampling uSampling;

    @Option(names = "--batch-speedup", negatable = true,
            description = "Apply Q to the linear layers' recorded inputs and output gradients,"
                    + " without the A factor (cheaper when the batch is smaller than the layer;"
                    + " --no-batch-speedup: the full Q).")
    Boolean batchSpeedup;

    @Option(names = "--momentum-form", paramLabel = "F",
            description = "How FishLeg's momentum accumulates the natural gradient:"
                    + " ${COMPLETION-CANDIDATES} (heavy_ball is K-FAC's; its steps are 1/(1-beta)"
                    + " times larger at the same --fish-lr).")
    ai.fishleg.core.ParameterStep.Momentum momentumForm;

    @Option(names = "--aux-moments", paramLabel = "M",
            description = "The auxiliary Adam's moments at each Kronecker renewal:"
                    + " ${COMPLETION-CANDIDATES}.")
    ai.fishleg.fishleg.AuxMoments auxMoments;

    @Option(names = "--aux-step-scale", paramLabel = "S",
            description = "Size of the auxiliary step per tensor of λ: ${COMPLETION-CANDIDATES}"
                    + " (per_factor: --aux-lr times the tensor's magnitude, a relative step).")
    ai.fishleg.fishleg.AuxStepScale auxStepScale;

    @Option(names = "--aux-burst", paramLabel = "N",
            description = "An auxiliary update on each of the first N steps after every Kronecker"
                    + " start (0: none).")
    Integer auxBurst;

    @Option(names = "--aux-update", paramLabel = "U",
            description = "Rule of the auxiliary step on λ: ${COMPLETION-CANDIDATES} (lie_group:"
                    + " multiplicative, scale-free steps on each factor, --aux-lr < 1 their"
                    + " relative size).")
    ai.fishleg.fishleg.AuxUpdate auxUpdate;

    @Option(names = "--quality-every", paramLabel = "N",
            description = "Every N steps, log how close Q is to the damped inverse on held-out"
                    + " directions (Gaussian ones, and gradients of held-out batches), beside"
                    + " K-FAC's inverse at the same point (QualityProbe; 0: never).")
    Integer qualityEvery;

    @Option(names = "--kl-clip", paramLabel = "K",
            description = "Trust-region bound κ of each FishLeg or K-FAC step (0: off).")
    Double klClip;

    /**
     * @param preset the task's FishLeg preset
     * @return the preset with the options given on the command line
     * @throws IllegalArgumentException naming an option whose value is out of range
     */
    Hyperparameters apply(Hyperparameters preset) {
        Hyperparameters.Builder b = preset.toBuilder();
        set(fishLr, b::fishLr);
        set(damping, b::damping);
        set(auxLr, b::auxLr);
        set(updateAuxEvery, b::updateAuxEvery);
        set(scale, b::scale);
        set(beta, b::beta);
        set(weightDecay, b::weightDecay);
        set(normalization, b::normalization);
        set(warmup, b::warmup);
        set(kroneckerStart, b::kroneckerStart);
        set(kroneckerEvery, b::kroneckerEvery);
        set(kroneckerLabels, b::kroneckerLabels);
        if (kroneckerIdentityDecay != null || kroneckerIdentityEvery != null) {
            b.kroneckerIdentityStart(
                    kroneckerIdentityDecay != null ? kroneckerIdentityDecay
                            : preset.kroneckerIdentityDecay(),
                    kroneckerIdentityEvery != null ? kroneckerIdentityEvery
                            : preset.kroneckerIdentityEvery());
        }
        set(momentumForm, b::momentumForm);
        set(estimator, b::estimator);
        set(preconditionAux, b::preconditionAux);
        set(uSampling, b::uSampling);
        set(klClip, b::klClip);
        set(batchSpeedup, b::batchSpeedup);
        set(auxMoments, b::auxMoments);
        set(auxStepScale, b::auxStepScale);
        set(auxBurst, b::auxBurst);
        set(auxUpdate, b::auxUpdate);
        return b.build();
    }

    /** @return steps between two quality probes (0: none) */
    int qualityEvery() {
        if (qualityEvery != null && qualityEvery < 0) {
            throw new IllegalArgumentException(
                    "--quality-every must be >= 0 (a number of steps; 0: never), got " + qualityEvery);
        }
        return qualityEvery == null ? 0 : qualityEvery;
    }

    private static <T> void set(T value, java.util.function.Consumer<T> setter) {
        if (value != null) {
            setter.accept(value);
        }
    }
}
