package ai.fishleg.fishleg;

import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.likelihood.FisherLabels;
import java.util.List;

/**
 * The named setters of every FishLeg setting, shared by {@link Hyperparameters.Builder} and
 * {@link FishLeg.Builder} so that each setting is documented here once and its default is written
 * once ({@link Hyperparameters.Values}). The defaults are the seed version's (the reference
 * constructor's keyword arguments, in camelCase); values are checked when the settings are built.
 *
 * @param <B> the builder type the setters return
 */
public abstract class HyperparameterSetters<B extends HyperparameterSetters<B>> {

    private Hyperparameters.Values values = new Hyperparameters.Values();

    HyperparameterSetters() {}

    /** @return this builder, as its own type */
    abstract B self();

    /** @return the settings made so far, validated */
    final Hyperparameters toHyperparameters() {
        return new Hyperparameters(values);
    }

    /**
     * Sets every setting to that of {@code settings} (for example a preset, before changing a
     * few).
     *
     * @param settings the settings to copy
     * @return this
     */
    public B settings(Hyperparameters settings) {
        values = settings.values();
        return self();
    }

    /** @param v learning rate η of the parameters (default 0.05) @return this */
    public B fishLr(double v) {
        values.fishLr = v;
        return self();
    }

    /** @param v damping γ of the Fisher (default 0.5) @return this */
    public B damping(double v) {
        values.damping = v;
        return self();
    }

    /** @param v weight decay (default 1e-5; see {@link FishLeg#step()}) @return this */
    public B weightDecay(double v) {
        values.weightDecay = v;
        return self();
    }

    /** @param v momentum coefficient of the natural gradient (default 0.9) @return this */
    public B beta(double v) {
        values.beta = v;
        return self();
    }

    /**
     * @param v how the momentum accumulates the natural gradient n (default AVERAGE, the seed
     *     version's m ← βm + (1−β)n with decoupled weight decay; HEAVY_BALL is K-FAC's m ← βm +
     *     νn + wd·p, p ← p − ηm, so the same fishLr is (1−β)⁻¹ times larger; see {@link
     *     ParameterStep})
     * @return this
     */
    public B momentumForm(ParameterStep.Momentum v) {
        values.momentumForm = v;
        return self();
    }

    /**
     * @param v k > 0: an auxiliary update every k steps (at steps 0, k, 2k, ...); k < 0: |k|
     *     auxiliary updates every step; 0: never, Q stays at its warm-up value (default 10)
     * @return this
     */
    public B updateAuxEvery(int v) {
        values.updateAuxEvery = v;
        return self();
    }

    /** @param v learning rate of the auxiliary Adam (default 1e-4) @return this */
    public B auxLr(double v) {
        values.auxLr = v;
        return self();
    }

    /**
     * @param beta1 first-moment decay of the auxiliary Adam (default 0.9)
     * @param beta2 second-moment decay (default 0.999)
     * @return this
     */
    public B auxBetas(double beta1, double beta2) {
        values.auxBeta1 = beta1;
        values.auxBeta2 = beta2;
        return self();
    }

    /** @param v epsilon of the auxiliary Adam (default 1e-8) @return this */
    public B auxEps(double v) {
        values.auxEps = v;
        return self();
    }

    /**
     * @param v if positive, the auxiliary learning rate decays linearly from auxLr to 0 over
     *     this many auxiliary updates (default: no decay)
     * @return this
     */
    public B numSteps(long v) {
        values.numSteps = v;
        return self();
    }

    /**
     * @param v use the Qg form of linear layers (docs/ALGORITHM.md §12): Q = RᵀR ⊗ LLᵀ without the
     *     rescaling A, warmed up through L and R (Q0 = s·I, or the nearest Kronecker
     *     diagonal); other layers keep their usual form (default false). For layers built
     *     as {@link RecordingLinear} Q is applied to the recorded inputs and output gradients
     *     ({@link ai.fishleg.fishleg.blocks.FactoredBlock#qg}, the reference's product from saved activations), and the
     *     auxiliary update differentiates that product, whenever that is cheaper than the
     *     product with the formed gradient; otherwise Q is applied to the gradient (same
     *     numbers, more arithmetic).
     * @return this
     */
    public B batchSpeedup(boolean v) {
        values.batchSpeedup = v;
        return self();
    }

    /**
     * @param v learn the diagonal rescaling A of Kronecker blocks (default true); false keeps
     *     A at its warm-up value
     * @return this
     */
    public B full(boolean v) {
        values.full = v;
        return self();
    }

    /**
     * @param v divide the auxiliary loss by ‖u‖², so curvature is learned even when
     *     gradients are small (default false)
     * @return this
     */
    public B normalization(boolean v) {
        values.normalization = v;
        return self();
    }

    /**
     * @param v weight decay pulls the parameters towards their values at construction θ0,
     *     scaled by η (default false). Q keeps learning unless {@code updateAuxEvery(0)}.
     * @return this
     */
    public B fineTune(boolean v) {
        values.fineTune = v;
        return self();
    }

    /**
     * @param names layers to manage: dotted names, or {@code re:} regexes matched against a
     *     prefix of the name; a selected container stands for the layers inside it; empty (or
     *     a first entry {@code "re:*"}) manages every supported layer (default)
     * @return this
     */
    public B moduleNames(List<String> names) {
        values.moduleNames = List.copyOf(names);
        return self();
    }

    /** @param names see {@link #moduleNames(List)} @return this */
    public B moduleNames(String... names) {
        return moduleNames(List.of(names));
    }

    /**
     * @param names layers whose dotted name contains one of these substrings are not managed
     * @return this
     */
    public B skipNames(List<String> names) {
        values.skipNames = List.copyOf(names);
        return self();
    }

    /** @param names see {@link #skipNames(List)} @return this */
    public B skipNames(String... names) {
        return skipNames(List.of(names));
    }

    /**
     * @param v if true, every moduleNames entry must select a layer, else construction fails
     *     naming the entry (the reference's {@code params_strict}; default false)
     * @return this
     */
    public B strictModuleNames(boolean v) {
        values.strictModuleNames = v;
        return self();
    }

    /**
     * @param v re-initialisation of the weights of managed linear layers (default UNIFORM:
     *     keep DJL's or the user's values; NORMAL: N(0, 1/in), biases kept; ZERO: weights
     *     and biases 0). Other layer types are never re-initialised.
     * @return this
     */
    public B initialization(Initialization v) {
        values.initialization = v;
        return self();
    }

    /** @param v {@code "uniform"}, {@code "normal"} or {@code "zero"} @return this */
    public B initialization(String v) {
        return initialization(Initialization.parse(v));
    }

    /**
     * @param v initial scale s of Q: Q0 = s·I with warmup 0 (1/damping is the reference's
     *     suggestion there), diag(Q0) = s²/(g² + γ) with warmup > 0 (suggested 1) (default 1)
     * @return this
     */
    public B scale(double v) {
        values.scale = v;
        return self();
    }

    /**
     * @param v number of examples whose squared gradients set the diagonal of Q0; 0 uses Q0 =
     *     s·I (default 0). Needs {@link FishLegInputs#warmupData} and {@link
     *     FishLegInputs#warmupLoss}.
     * @return this
     */
    public B warmup(int v) {
        values.warmup = v;
        return self();
    }

    /**
     * @param v number of auxiliary-data batches from which the Kronecker start estimates K-FAC's
     *     factors (0: off, the default). With v > 0, every block of a RecordingLinear or
     *     RecordingConv2d layer starts from K-FAC's damped inverse, Q0 = (G + √γ/π I)⁻¹ ⊗ (A +
     *     π√γ I)⁻¹ with γ the damping (docs/ALGORITHM.md §18), instead of s·I or the warm-up's
     *     diagonal; the auxiliary loss refines it from there. Needs damping > 0.
     * @return this
     */
    public B kroneckerStart(int v) {
        values.kroneckerStart = v;
        return self();
    }

    /**
     * @param v after every v steps, set Q to K-FAC's damped inverse again, from {@code
     *     kroneckerStart} fresh batches at the current parameters (0: only at the start, the
     *     default). Needs kroneckerStart > 0.
     * @return this
     */
    public B kroneckerEvery(int v) {
        values.kroneckerEvery = v;
        return self();
    }

    /**
     * @param v the labels at which the Kronecker start's statistics passes differentiate the
     *     loss: {@link FisherLabels#DRAWN} from the model (the Fisher's factors, the default) or
     *     {@link FisherLabels#OBSERVED}, the auxiliary batches' own (the empirical Fisher's), as
     *     K-FAC's {@code fisherLabels}. OBSERVED needs kroneckerStart > 0.
     * @return this
     */
    public B kroneckerLabels(FisherLabels v) {
        values.kroneckerLabels = v;
        return self();
    }

    /**
     * An extra damping of the Kronecker start that fades as K-FAC's identity start does ({@link
     * ai.fishleg.kfac.FactorInit#IDENTITY}): a start made after t steps estimates the factors as
     * s·I + (1 − s)·A and s·I + (1 − s)·G with s = decay^(1 + ⌊t/every⌋), the identity's share of
     * K-FAC's running averages at step t when they start at I, decay by {@code decay} (K-FAC's
     * statDecay) and are updated every {@code every} steps (K-FAC's covEvery). Off by default
     * (decay 0, s = 0). A decay > 0 needs kroneckerStart > 0; renewals ({@link #kroneckerEvery})
     * let the share fade during the run.
     *
     * @param decay in [0, 1), 0: off
     * @param every >= 1 steps
     * @return this
     */
    public B kroneckerIdentityStart(double decay, int every) {
        values.kroneckerIdentityDecay = decay;
        values.kroneckerIdentityEvery = every;
        return self();
    }

    /**
     * @param v seed of the optimizer's own random generator (used by the normal
     *     initialisation; default 0)
     * @return this
     */
    public B seed(long v) {
        values.seed = v;
        return self();
    }

    /** @param v log each managed layer at INFO level (default false) @return this */
    public B verbose(boolean v) {
        values.verbose = v;
        return self();
    }

    /**
     * A trust region on every step (not in the reference): with Δ the momentum about to be
     * applied and g the training gradient, the step is scaled by ν = min(1, √(κ / (η²
     * |⟨Δ, g⟩|))) over all managed layers together (the K-FAC rule), so that the predicted
     * change of the loss stays bounded. 0 (default) turns it off.
     *
     * @param v κ, >= 0
     * @return this
     */
    public B klClip(double v) {
        values.klClip = v;
        return self();
    }

    /**
     * @param v what a step does on a non-finite gradient, natural gradient or new parameter:
     *     THROW (default) or SKIP; either way nothing non-finite is written
     * @return this
     */
    public B nonFinitePolicy(NonFinitePolicy v) {
        values.nonFinitePolicy = v;
        return self();
    }

    /**
     * @param v how auxiliary updates estimate the Fisher-vector product: {@link
     *     Estimator#RANK1} (the seed, default) or {@link Estimator#ANTITHETIC} (unbiased, two
     *     extra forward/backward passes)
     * @return this
     */
    public B estimator(Estimator v) {
        values.estimator = v;
        return self();
    }

    /** @param v {@code "rank1"} or {@code "antithetic"} @return this */
    public B estimator(String v) {
        return estimator(Estimator.parse(v));
    }

    /**
     * @param v length ε of the parameter perturbation of the {@link Estimator#ANTITHETIC}
     *     estimator, > 0 (default 1e-4; in float32 much smaller values lose precision)
     * @return this
     */
    public B antitheticEps(double v) {
        values.antitheticEps = v;
        return self();
    }

    /**
     * @param v precondition the auxiliary gradient: pull back Q(λ)D (rescaled by ‖u‖/‖V‖)
     *     instead of D = (F̂ + γI)V − u, a natural-gradient-like step for λ (the {@code main}
     *     reference's {@code precondition_aux}; default false)
     * @return this
     */
    public B preconditionAux(boolean v) {
        values.preconditionAux = v;
        return self();
    }

    /**
     * @param v the direction u that Q is trained along: {@link USampling#GRADIENT} (the stored
     *     gradient, default) or {@link USampling#GAUSSIAN} (fresh N(0, I) per update, learns
     *     Q in every direction)
     * @return this
     */
    public B uSampling(USampling v) {
        values.uSampling = v;
        return self();
    }

    /** @param v {@code "gradient"} or {@code "gaussian"} @return this */
    public B uSampling(String v) {
        return uSampling(USampling.parse(v));
    }

    /**
     * @param v what the auxiliary Adam's moments do at each Kronecker renewal: {@link
     *     AuxMoments#KEEP} (default) or {@link AuxMoments#RESET_AT_RENEWAL}
     * @return this
     */
    public B auxMoments(AuxMoments v) {
        values.auxMoments = v;
        return self();
    }

    /**
     * @param v the auxiliary step's size per tensor of λ: {@link AuxStepScale#ABSOLUTE} (default,
     *     auxLr for every tensor) or {@link AuxStepScale#PER_FACTOR} (auxLr times the tensor's
     *     magnitude: a relative step)
     * @return this
     */
    public B auxStepScale(AuxStepScale v) {
        values.auxStepScale = v;
        return self();
    }

    /**
     * @param v with the Kronecker start, the number of steps after each start (the first and
     *     every renewal) on which an auxiliary update runs on every step, before updateAuxEvery
     *     takes over again: many updates while Q is fresh from K-FAC, fewer later (default 0:
     *     none)
     * @return this
     */
    public B auxBurst(int v) {
        values.auxBurst = v;
        return self();
    }

    /**
     * @param v the rule that turns the λ-gradient into a step: {@link AuxUpdate#ADAM} (default,
     *     the auxiliary Adam) or {@link AuxUpdate#LIE_GROUP} (multiplicative, scale-free steps on
     *     each factor, as PSGD learns its triangular factors; auxLr, below 1, is then the
     *     relative size of each step, and auxBetas, auxEps, auxStepScale and auxMoments do not
     *     apply)
     * @return this
     */
    public B auxUpdate(AuxUpdate v) {
        values.auxUpdate = v;
        return self();
    }

    /** @param v {@code "adam"} or {@code "lie-group"} @return this */
    public B auxUpdate(String v) {
        return auxUpdate(AuxUpdate.parse(v));
    }
}
