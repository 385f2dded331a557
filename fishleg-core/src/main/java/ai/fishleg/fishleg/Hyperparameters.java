package ai.fishleg.fishleg;

import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.likelihood.FisherLabels;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The settings of a {@link FishLeg} optimizer: immutable, validated when built, and made only
 * through named setters ({@link #builder()}, {@link #toBuilder()}, or {@link FishLeg#builder}),
 * which {@link HyperparameterSetters} documents one by one. Every default is written once, in
 * {@link Values}: the seed version's, except where the setter says otherwise.
 */
public final class Hyperparameters {

    /** The value of every setting, initialised to its default (the only place defaults live). */
    static final class Values implements Cloneable {
        double fishLr = 0.05;
        double damping = 0.5;
        double weightDecay = 1e-5;
        double beta = 0.9;
        ParameterStep.Momentum momentumForm = ParameterStep.Momentum.AVERAGE;
        int updateAuxEvery = 10;
        double auxLr = 1e-4;
        double auxBeta1 = 0.9;
        double auxBeta2 = 0.999;
        double auxEps = 1e-8;
        long numSteps = 0;
        boolean batchSpeedup = false;
        boolean full = true;
        boolean normalization = false;
        boolean fineTune = false;
        List<String> moduleNames = List.of();
        List<String> skipNames = List.of();
        boolean strictModuleNames = false;
        Initialization initialization = Initialization.UNIFORM;
        double scale = 1.0;
        int warmup = 0;
        int kroneckerStart = 0;
        int kroneckerEvery = 0;
        FisherLabels kroneckerLabels = FisherLabels.DRAWN;
        double kroneckerIdentityDecay = 0;
        int kroneckerIdentityEvery = 1;
        long seed = 0;
        boolean verbose = false;
        double klClip = 0;
        NonFinitePolicy nonFinitePolicy = NonFinitePolicy.THROW;
        Estimator estimator = Estimator.RANK1;
        double antitheticEps = 1e-4;
        boolean preconditionAux = false;
        USampling uSampling = USampling.GRADIENT;
        AuxMoments auxMoments = AuxMoments.KEEP;
        AuxStepScale auxStepScale = AuxStepScale.ABSOLUTE;
        int auxBurst = 0;
        AuxUpdate auxUpdate = AuxUpdate.ADAM;

        Values copy() {
            try {
                return (Values) clone(); // every field is a primitive or immutable
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** The defaults. */
    public static final Hyperparameters DEFAULTS = builder().build();

    private final Values v;

    /** Validates every setting; the message names the setting, its value and the allowed range. */
    Hyperparameters(Values values) {
        Values v = values.copy();
        nonNegative("fishLr", v.fishLr);
        nonNegative("damping", v.damping);
        nonNegative("weightDecay", v.weightDecay);
        unitInterval("beta", v.beta);
        if (v.momentumForm == null) {
            throw new IllegalArgumentException("momentumForm must be AVERAGE or HEAVY_BALL, got null");
        }
        nonNegative("auxLr", v.auxLr);
        unitInterval("auxBetas[0]", v.auxBeta1);
        unitInterval("auxBetas[1]", v.auxBeta2);
        nonNegative("auxEps", v.auxEps);
        if (v.numSteps < 0) {
            throw new IllegalArgumentException(
                    "numSteps must be positive (or 0 for no decay), got " + v.numSteps);
        }
        if (!(v.scale > 0) || Double.isInfinite(v.scale)) {
            throw new IllegalArgumentException("scale must be a finite number > 0, got " + v.scale);
        }
        if (v.warmup < 0) {
            throw new IllegalArgumentException(
                    "warmup must be >= 0 (a number of examples), got " + v.warmup);
        }
        if (v.kroneckerStart < 0) {
            throw new IllegalArgumentException(
                    "kroneckerStart must be >= 0 (a number of batches), got " + v.kroneckerStart);
        }
        if (v.kroneckerEvery < 0 || (v.kroneckerEvery > 0 && v.kroneckerStart == 0)) {
            throw new IllegalArgumentException("kroneckerEvery must be >= 0 (a number of steps), and"
                    + " > 0 only with kroneckerStart > 0 (the batches of each estimate), got"
                    + " kroneckerEvery " + v.kroneckerEvery + ", kroneckerStart " + v.kroneckerStart);
        }
        notNull("kroneckerLabels", v.kroneckerLabels, FisherLabels.values());
        if (v.kroneckerLabels != FisherLabels.DRAWN && v.kroneckerStart == 0) {
            throw new IllegalArgumentException("kroneckerLabels " + v.kroneckerLabels + " needs"
                    + " kroneckerStart > 0 (they are the labels of its statistics passes)");
        }
        if (!(v.kroneckerIdentityDecay >= 0 && v.kroneckerIdentityDecay < 1)
                || v.kroneckerIdentityEvery < 1
                || (v.kroneckerIdentityDecay > 0 && v.kroneckerStart == 0)) {
            throw new IllegalArgumentException("kroneckerIdentityStart needs a decay in [0, 1) (0:"
                    + " off), every >= 1 (a number of steps), and kroneckerStart > 0 when the"
                    + " decay is > 0, got decay " + v.kroneckerIdentityDecay + ", every "
                    + v.kroneckerIdentityEvery + ", kroneckerStart " + v.kroneckerStart);
        }
        if (v.kroneckerStart > 0 && v.damping == 0) {
            throw new IllegalArgumentException("kroneckerStart > 0 needs damping > 0 (the damped"
                    + " factors A + π√γ I and G + √γ/π I may be singular without it); set"
                    + " damping, or kroneckerStart = 0");
        }
        if (v.warmup > 0 && v.damping == 0) {
            throw new IllegalArgumentException(
                    "warmup > 0 needs damping > 0 (Q0 = scale²/(g² + damping) would be infinite"
                            + " where a gradient is 0)");
        }
        nonNegative("klClip", v.klClip);
        notNull("nonFinitePolicy", v.nonFinitePolicy, NonFinitePolicy.values());
        notNull("initialization", v.initialization, Initialization.values());
        notNull("estimator", v.estimator, Estimator.values());
        notNull("uSampling", v.uSampling, USampling.values());
        notNull("auxMoments", v.auxMoments, AuxMoments.values());
        notNull("auxStepScale", v.auxStepScale, AuxStepScale.values());
        if (v.auxBurst < 0 || (v.auxBurst > 0 && v.kroneckerStart == 0)) {
            throw new IllegalArgumentException("auxBurst must be >= 0 (a number of steps), and > 0"
                    + " only with kroneckerStart > 0 (it counts the steps after each start), got"
                    + " auxBurst " + v.auxBurst + ", kroneckerStart " + v.kroneckerStart);
        }
        notNull("auxUpdate", v.auxUpdate, AuxUpdate.values());
        if (v.auxUpdate == AuxUpdate.LIE_GROUP) {
            if (!(v.auxLr < 1)) {
                throw new IllegalArgumentException("auxLr must be < 1 with auxUpdate LIE_GROUP (it"
                        + " is the fraction by which a step may change each factor), got "
                        + v.auxLr);
            }
            if (v.auxStepScale != AuxStepScale.ABSOLUTE
                    || v.auxMoments != AuxMoments.KEEP) {
                throw new IllegalArgumentException("auxStepScale and auxMoments shape the"
                        + " auxiliary Adam's step; auxUpdate LIE_GROUP has no Adam step (its"
                        + " step is relative and has no moments): leave them at ABSOLUTE and"
                        + " KEEP, got " + v.auxStepScale + " and " + v.auxMoments);
            }
        }
        if (!(v.antitheticEps > 0) || Double.isInfinite(v.antitheticEps)) {
            throw new IllegalArgumentException(
                    "antitheticEps must be a finite number > 0 (the length of the parameter"
                            + " perturbation, typically 1e-4), got " + v.antitheticEps);
        }
        v.moduleNames = List.copyOf(v.moduleNames);
        v.skipNames = List.copyOf(v.skipNames);
        for (String m : v.moduleNames) {
            if (m.contains("weight")) {
                throw new IllegalArgumentException(
                        "moduleNames entry '" + m + "' names a parameter: FishLeg manages whole"
                                + " layers, so give the layer's name (without 'weight')");
            }
        }
        this.v = v;
    }

    /** @return a builder with every default */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder that starts from these settings */
    public Builder toBuilder() {
        return new Builder().settings(this);
    }

    /** @return a copy of the values (for a builder) */
    Values values() {
        return v.copy();
    }

    /** @return η, the parameters' step size */
    public double fishLr() {
        return v.fishLr;
    }

    /** @return γ, the damping of the Fisher */
    public double damping() {
        return v.damping;
    }

    /** @return the decoupled weight decay per step */
    public double weightDecay() {
        return v.weightDecay;
    }

    /** @return the momentum coefficient β of the natural gradient */
    public double beta() {
        return v.beta;
    }

    /** @return how the momentum accumulates the natural gradient */
    public ParameterStep.Momentum momentumForm() {
        return v.momentumForm;
    }

    /** @return k: an auxiliary update every k steps (k > 0), |k| per step (k < 0), never (0) */
    public int updateAuxEvery() {
        return v.updateAuxEvery;
    }

    /** @return {@link #updateAuxEvery()} as a schedule type */
    public AuxSchedule auxSchedule() {
        return AuxSchedule.of(v.updateAuxEvery);
    }

    /** @return the learning rate of the auxiliary Adam */
    public double auxLr() {
        return v.auxLr;
    }

    /** @return the auxiliary Adam's first-moment decay */
    public double auxBeta1() {
        return v.auxBeta1;
    }

    /** @return the auxiliary Adam's second-moment decay */
    public double auxBeta2() {
        return v.auxBeta2;
    }

    /** @return the auxiliary Adam's epsilon */
    public double auxEps() {
        return v.auxEps;
    }

    /** @return the auxiliary updates over which auxLr decays linearly to 0 (0: no decay) */
    public long numSteps() {
        return v.numSteps;
    }

    /** @return whether linear layers use the Qg form (and recorded factors) */
    public boolean batchSpeedup() {
        return v.batchSpeedup;
    }

    /** @return whether the diagonal rescaling A of Kronecker blocks is learned */
    public boolean full() {
        return v.full;
    }

    /** @return whether the auxiliary loss is divided by ‖u‖² */
    public boolean normalization() {
        return v.normalization;
    }

    /** @return whether weight decay pulls towards the initial parameters θ0 */
    public boolean fineTune() {
        return v.fineTune;
    }

    /** @return the layers to manage (empty: every supported layer) */
    public List<String> moduleNames() {
        return v.moduleNames;
    }

    /** @return substrings of the names of layers not to manage */
    public List<String> skipNames() {
        return v.skipNames;
    }

    /** @return whether every moduleNames entry must select a layer */
    public boolean strictModuleNames() {
        return v.strictModuleNames;
    }

    /** @return the re-initialisation of managed linear weights */
    public Initialization initialization() {
        return v.initialization;
    }

    /** @return the initial scale s of Q */
    public double scale() {
        return v.scale;
    }

    /** @return the examples whose squared gradients set diag(Q0) (0: Q0 = s·I) */
    public int warmup() {
        return v.warmup;
    }

    /** @return batches of the Kronecker start (0: off) */
    public int kroneckerStart() {
        return v.kroneckerStart;
    }

    /** @return steps between two Kronecker starts after the first (0: only the first) */
    public int kroneckerEvery() {
        return v.kroneckerEvery;
    }

    /** @return the labels of the Kronecker start's statistics passes */
    public FisherLabels kroneckerLabels() {
        return v.kroneckerLabels;
    }

    /** @return the decay d of the Kronecker start's identity share d^(1 + ⌊t/every⌋) (0: off) */
    public double kroneckerIdentityDecay() {
        return v.kroneckerIdentityDecay;
    }

    /** @return the steps per decay of the Kronecker start's identity share */
    public int kroneckerIdentityEvery() {
        return v.kroneckerIdentityEvery;
    }

    /** @return the seed of the optimizer's own generator */
    public long seed() {
        return v.seed;
    }

    /** @return whether each managed layer is logged at INFO level */
    public boolean verbose() {
        return v.verbose;
    }

    /** @return κ of the trust-region clip of each step (0: off) */
    public double klClip() {
        return v.klClip;
    }

    /** @return what a step does on a non-finite value */
    public NonFinitePolicy nonFinitePolicy() {
        return v.nonFinitePolicy;
    }

    /** @return how auxiliary updates estimate the Fisher-vector product */
    public Estimator estimator() {
        return v.estimator;
    }

    /** @return the perturbation length of the antithetic estimator */
    public double antitheticEps() {
        return v.antitheticEps;
    }

    /** @return whether the auxiliary gradient is preconditioned by Q(λ) */
    public boolean preconditionAux() {
        return v.preconditionAux;
    }

    /** @return the direction u that Q is trained along */
    public USampling uSampling() {
        return v.uSampling;
    }

    /** @return what the auxiliary Adam's moments do at a Kronecker renewal */
    public AuxMoments auxMoments() {
        return v.auxMoments;
    }

    /** @return how the auxiliary step's size is set per tensor of λ */
    public AuxStepScale auxStepScale() {
        return v.auxStepScale;
    }

    /** @return steps after each Kronecker start with an auxiliary update on every step */
    public int auxBurst() {
        return v.auxBurst;
    }

    /** @return the rule of the auxiliary step: Adam's or the multiplicative one */
    public AuxUpdate auxUpdate() {
        return v.auxUpdate;
    }

    /**
     * Every setting by name, in a fixed order (for reports and checkpoints).
     *
     * @return an unmodifiable map; enums and lists as they are
     */
    public Map<String, Object> asMap() {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Field f : Values.class.getDeclaredFields()) {
            if (!Modifier.isStatic(f.getModifiers()) && !f.isSynthetic()) {
                try {
                    out.put(f.getName(), f.get(v));
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException("cannot read setting " + f.getName(), e);
                }
            }
        }
        return Collections.unmodifiableMap(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Hyperparameters h && asMap().equals(h.asMap());
    }

    @Override
    public int hashCode() {
        return asMap().hashCode();
    }

    @Override
    public String toString() {
        return "Hyperparameters" + asMap();
    }

    private static void nonNegative(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " must be a finite number >= 0, got " + value);
        }
    }

    private static void unitInterval(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + value);
        }
    }

    private static void notNull(String name, Object value, Object[] allowed) {
        if (value == null) {
            throw new IllegalArgumentException(
                    name + " must not be null (one of " + List.of(allowed) + ")");
        }
    }

    /** Builds {@link Hyperparameters} with named setters. */
    public static final class Builder extends HyperparameterSetters<Builder> {

        private Builder() {}

        @Override
        Builder self() {
            return this;
        }

        /**
         * @return the settings
         * @throws IllegalArgumentException naming the setting that is out of range
         */
        public Hyperparameters build() {
            return toHyperparameters();
        }
    }
}
