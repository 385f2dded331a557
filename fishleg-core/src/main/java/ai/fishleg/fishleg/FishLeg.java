package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.CurvatureOptimizer;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.util.Scope;
import java.util.List;
import java.util.Optional;

/**
 * The FishLeg optimizer (Garcia et al., ICLR 2023): learns online a block-diagonal model Q(λ) of
 * the inverse damped Fisher matrix (F + γI)⁻¹ by minimising an auxiliary loss, and moves the
 * parameters along the natural gradient Q(λ)g with momentum.
 *
 * <p>Usage mirrors {@code torch.optim}: compute the gradient of the loss, then call {@link
 * #step()}:
 *
 * <pre>{@code
 * try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood),
 *         NllFunction.of(likelihood), auxData).fishLr(0.02).damping(0.3).build()) {
 *     for (LabeledBatch batch : batches) {
 *         opt.zeroGrad();
 *         try (GradientCollector gc = engine.newGradientCollector()) {
 *             gc.backward(NllFunction.of(likelihood).nll(model, batch));
 *         }
 *         opt.step();
 *     }
 * }
 * }</pre>
 *
 * <p>FishLeg manages the layers it knows ({@link LayerRegistry}; each gets a {@link
 * CurvatureBlock}), at any depth, named by dotted paths ({@link LayerSelection}; {@link
 * #describeLayers(Block)}), and a likelihood's learnable parameters. Parameters of other layers
 * are left alone (as in the reference) and listed by {@link #getUnmanagedParameters()} and in the
 * log. The optimizer owns one {@link NDManager} (a child of the model's parameter manager) for its
 * state; the temporaries of a step live in a sub-manager closed with the step. This class is a
 * facade over parts with one job each ({@link FishLegParts}; see docs/ARCHITECTURE.md).
 */
public final class FishLeg implements CurvatureOptimizer {

    /** Name of the likelihood's curvature block. */
    public static final String LIKELIHOOD_BLOCK = "likelihood";

    private final FishLegParts p;
    private FishLegStep lastStep;

    private FishLeg(Builder b) {
        this.p = new FishLegParts(b);
    }

    /**
     * Starts building an optimizer (the reference constructor's four required arguments).
     *
     * @param model the network, initialised (its parameters exist)
     * @param draw samples targets from the model's predictive distribution
     * @param nll the negative log-likelihood (batch mean) of the model on a batch
     * @param auxData hands out one random batch per auxiliary update
     * @return the builder, with the default settings
     */
    public static Builder builder(
            Block model, DrawFunction draw, NllFunction nll, BatchSource auxData) {
        return new Builder(model, draw, nll, auxData);
    }

    /**
     * Lists the layers of a model that have trainable parameters, with whether FishLeg manages
     * them by default (every supported layer) and the sizes of their blocks of Q (parameters and
     * auxiliary parameters λ). Names are dotted paths ({@link LayerSelection}).
     *
     * @param model an initialised model
     * @return one description per layer, in pre-order
     */
    public static List<ManagedLayers.LayerDescription> describeLayers(Block model) {
        return ManagedLayers.describe(model, List.of(), List.of());
    }

    /**
     * {@link #describeLayers(Block)} under a selection ({@link Builder#moduleNames(List)}, {@link
     * Builder#skipNames(List)}).
     *
     * @param model an initialised model
     * @param moduleNames layers to manage
     * @param skipNames layers not to manage
     * @return one description per layer, in pre-order
     */
    public static List<ManagedLayers.LayerDescription> describeLayers(
            Block model, List<String> moduleNames, List<String> skipNames) {
        return ManagedLayers.describe(model, moduleNames, skipNames);
    }

    /**
     * Sets every gradient of the model's trainable parameters (and of learnable likelihood
     * parameters) to zero. DJL accumulates gradients across backward passes, so call this before
     * each training backward pass, as {@code optimizer.zero_grad()} in PyTorch.
     */
    @Override
    public void zeroGrad() {
        try (Scope scope = Scope.open(p.manager)) {
            p.passes.zeroGradients(scope);
        }
    }

    /**
     * One optimisation step (docs/ALGORITHM.md §9), from the gradients left by the last backward pass:
     *
     * <ol>
     *   <li>on an auxiliary step ({@code updateAuxEvery} k > 0 and step % k == 0, or k < 0, or
     *       within {@code auxBurst} steps of a Kronecker start), store u ← gradient and run one
     *       (or |k|) {@link #updateAux auxiliary updates};
     *   <li>natural gradient n = Q(λ)v with v = u on auxiliary steps, else the current gradient;
     *   <li>momentum m ← βm + (1−β)n;
     *   <li>p ← p − νηm − wd·p, or with {@code fineTune} p ← p − η(νm + wd(p − θ0)), where ν = 1
     *       unless {@code klClip} is set (see {@link #getLastClipFactor()}).
     * </ol>
     *
     * Nothing is written before everything is known to be finite: a non-finite gradient, natural
     * gradient or new parameter value throws a {@link NonFiniteException} naming the layer and the
     * quantity with parameters and momentum untouched, or skips the step (see {@link
     * Builder#nonFinitePolicy}). The model's gradients are left as they were.
     *
     * @throws IllegalStateException if no gradient has been computed yet
     * @throws NonFiniteException on a non-finite value under the THROW policy
     */
    @Override
    public void step() {
        lastStep = p.step();
    }

    /** @return what the last {@link #step()} did (empty before the first step) */
    @Override
    public Optional<FishLegStep> lastStep() {
        return Optional.ofNullable(lastStep);
    }

    /**
     * One auxiliary update of λ ({@link AuxiliaryUpdate}): on a random auxiliary batch, the
     * auxiliary loss ½(γ⟨V,V⟩ + ⟨V,F̂V⟩) − ⟨u,V⟩ with V = Q(λ)u; under {@link AuxMode#LEARN},
     * one Adam step on λ. The model's parameters, gradients and running statistics are left as
     * they were.
     *
     * @param mode LEARN (one Adam step on λ) or EVALUATE (only the loss)
     * @param labels DRAWN (targets drawn from the model, the reference's) or OBSERVED (the
     *     batch's targets)
     * @return the loss and its terms
     */
    public AuxInfo updateAux(AuxMode mode, FisherLabels labels) {
        return p.aux.update(mode, labels, null).info();
    }

    /** @return the learning rate of the next auxiliary Adam step (linear decay when numSteps > 0) */
    public double currentAuxLr() {
        return p.aux.currentLr();
    }

    /**
     * Sets the initial Q ({@link Warmup}): Q0 = s·I without data (each call multiplies, as in the
     * reference), diag(Q0) = s²/(g² + γ) from squared gradients with data and a loss.
     *
     * @param data warm-up batches, or null
     * @param loss the loss whose gradients are squared, or null
     * @param scale the scale s
     */
    public void warmupAux(BatchSource data, NllFunction loss, double scale) {
        p.warmup.run(data, loss, scale);
    }

    /**
     * Learns λ without moving the parameters (docs/ALGORITHM.md §14; {@link Pretraining}): each
     * iteration stores u ← ∇loss on a random batch (minus the gradient on a second batch under
     * {@link PretrainOptions.Direction#GRADIENT_DIFFERENCE}) and runs one auxiliary update.
     *
     * @param data batches for u
     * @param loss the loss whose gradient is u
     * @param iterations number of auxiliary updates
     * @param options the direction u, the auxiliary updates' labels, the progress logged
     * @return per iteration, auxLoss + ½·linearTerm (0 at the optimum; with normalization the
     *     linear term is normalised too, docs/ALGORITHM.md §14 [FIX])
     */
    public List<Double> pretrainFish(
            BatchSource data, NllFunction loss, int iterations, PretrainOptions options) {
        return p.pretraining.run(data, loss, iterations, options);
    }

    /**
     * {@link #pretrainFish(BatchSource, NllFunction, int, PretrainOptions)} with the reference's
     * defaults ({@link PretrainOptions#defaults()}: one batch's gradient, labels drawn, quiet).
     *
     * @param data batches for u
     * @param loss the loss whose gradient is u
     * @param iterations number of auxiliary updates
     * @return per iteration, auxLoss + ½·linearTerm
     */
    public List<Double> pretrainFish(BatchSource data, NllFunction loss, int iterations) {
        return pretrainFish(data, loss, iterations, PretrainOptions.defaults());
    }

    /** @return everything a run changes ({@link FishLegState}), for {@link #save} and {@link #load} */
    @Override
    public CheckpointState checkpointState() {
        return p.state;
    }

    /**
     * A probe of how close Q(λ) is to the damped inverse it learns ({@link QualityProbe}), whose
     * {@link ProbeDirections#GRADIENT} directions are the gradients of F̂'s own batch split into
     * {@code directions} consecutive parts of equal size (the last takes the remainder).
     *
     * @param heldOut the fixed batch F̂ is estimated on (the caller keeps it open while probing),
     *     at least {@code directions} examples
     * @param directions the number of directions v of each kind, >= 1
     * @param seed seed of the Gaussian directions and of the labels drawn for F̂
     * @return the probe; its measurements change nothing of this optimizer
     */
    public QualityProbe qualityProbe(LabeledBatch heldOut, int directions, long seed) {
        return QualityProbe.splitting(p, heldOut, directions, seed);
    }

    /**
     * A probe of how close Q(λ) is to the damped inverse it learns ({@link QualityProbe}), whose
     * {@link ProbeDirections#GRADIENT} directions are the gradients of the given batches.
     *
     * @param heldOut the fixed batch F̂ is estimated on (the caller keeps it open while probing)
     * @param gradientBatches held-out batches with their observed labels, one gradient direction
     *     each (the caller keeps them open while probing); at least one
     * @param directions the number of Gaussian directions v, >= 1
     * @param seed seed of the Gaussian directions and of the labels drawn for F̂
     * @return the probe; its measurements change nothing of this optimizer
     */
    public QualityProbe qualityProbe(LabeledBatch heldOut, List<LabeledBatch> gradientBatches,
            int directions, long seed) {
        if (gradientBatches == null || gradientBatches.isEmpty()) {
            throw new IllegalArgumentException(
                    "the quality probe needs at least 1 gradient batch, got none");
        }
        return new QualityProbe(p, heldOut, List.copyOf(gradientBatches), directions, seed);
    }

    /** @return the curvature blocks, in parameter-group order */
    public List<CurvatureBlock> getBlocks() {
        return p.blocks.stream().map(BlockState::block).toList();
    }

    /** @param name a managed layer's dotted name (or {@value #LIKELIHOOD_BLOCK}) @return its block */
    public CurvatureBlock getBlock(String name) {
        return p.blocks.get(p.index(name)).block();
    }

    /** @return the parameter arrays of the managed layers and of a learnable likelihood */
    @Override
    public List<NDArray> getManagedParameters() {
        return p.blocks.stream().flatMap(g -> g.block().getParameterArrays().stream()).toList();
    }

    /** @return the dotted names of the managed layers (and the likelihood block) */
    public List<String> managedNames() {
        return p.blocks.stream().map(g -> g.block().getName()).toList();
    }

    /** @return DJL names of the trainable parameters FishLeg does not manage (nor change) */
    public List<String> getUnmanagedParameters() {
        return p.unmanaged;
    }

    /** @return the settings */
    public Hyperparameters getHyperparameters() {
        return p.hp;
    }

    /** @return the current parameter step size η */
    public double getFishLr() {
        return p.state.fishLr;
    }

    /** Changes η (for learning-rate schedules). @param fishLr the new η, finite and >= 0 */
    public void setFishLr(double fishLr) {
        if (!(fishLr >= 0) || Double.isInfinite(fishLr)) {
            throw new IllegalArgumentException("fishLr must be a finite number >= 0, got " + fishLr);
        }
        p.state.fishLr = fishLr;
    }

    /** @return the number of completed {@link #step()} calls */
    @Override
    public long getStepCount() {
        return p.stats.steps();
    }

    /** @return the number of auxiliary Adam steps taken so far */
    public long getAuxUpdateCount() {
        return p.stats.auxUpdates();
    }

    /** @return the last auxiliary loss of a training auxiliary update (NaN before the first) */
    public double getAuxLoss() {
        return p.stats.auxLoss();
    }

    /** @return steps skipped for a non-finite value (policy SKIP) */
    @Override
    public long getSkippedSteps() {
        return p.stats.skippedSteps();
    }

    /** @return auxiliary updates skipped because their loss or λ-gradient was not finite */
    public long getSkippedAuxUpdates() {
        return p.stats.skippedAuxUpdates();
    }

    /** @return the trust-region factor ν of the last step (1 when not clipped or klClip off) */
    @Override
    public double getLastClipFactor() {
        return p.parameterStep.lastClipFactor();
    }

    /** @return the number of steps whose update was scaled down by klClip (ν < 1) */
    @Override
    public long getClippedSteps() {
        return p.parameterStep.clippedSteps();
    }

    /** @return the result of the last auxiliary update, or null */
    public AuxInfo getLastAuxInfo() {
        return p.stats.lastAuxInfo();
    }

    /** @param name a managed layer's dotted name @return its momentum (live), in block order */
    public NDList getMomentum(String name) {
        return p.parameterStep.momentum(p.index(name));
    }

    /** @param name a managed layer's dotted name @return its stored gradient u (live) */
    public NDList getStoredGradient(String name) {
        return p.blocks.get(p.index(name)).u();
    }

    /** @return the model */
    public Block getModel() {
        return p.model;
    }

    /** @return the manager that owns the optimizer's state */
    public NDManager getManager() {
        return p.manager;
    }

    /** Frees λ, momentum, stored gradients and Adam moments. The model is not touched. */
    @Override
    public void close() {
        p.speedup.close();
        p.manager.close();
    }

    /**
     * Builds a {@link FishLeg}: the settings ({@link HyperparameterSetters}, with their defaults)
     * and the inputs ({@link FishLegInputs}).
     */
    public static final class Builder extends FishLegInputs<Builder> {

        private Builder(Block model, DrawFunction draw, NllFunction nll, BatchSource auxData) {
            super(model, draw, nll, auxData);
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * @return the optimizer: its curvature blocks attached, Q warmed up
         * @throws IllegalArgumentException naming the setting or layer that is wrong
         */
        public FishLeg build() {
            return new FishLeg(this);
        }
    }
}
