package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.CurvatureOptimizer;
import ai.fishleg.core.GuardedPass;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.LayerGroups.Group;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import ai.fishleg.util.Scope;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * K-FAC (Martens and Grosse 2015; convolutions: Grosse and Martens 2016): preconditions the
 * gradient of each fully connected and 2-d convolution layer by the inverse of a damped Kronecker
 * factorisation of its block of the Fisher matrix, and moves the parameters with momentum.
 *
 * <p>Each step (from the gradients left by the user's backward pass):
 *
 * <ol>
 *   <li>every {@code covEvery} steps (at steps 0, covEvery, ...): one batch from {@code
 *       curvatureData}, labels drawn from the model ({@code draw}; the true Fisher; or the
 *       batch's own labels under {@link FisherLabels#OBSERVED}, the empirical Fisher), a backward
 *       pass of {@code nll} on them, and the factors A = E[āāᵀ] and G = E[ggᵀ] of every K-FAC
 *       layer updated from that pass's layer inputs and output gradients as exponential moving
 *       averages with weight {@code statDecay} on the old value (see {@link
 *       KroneckerFactoredBlock} for the estimates and their scaling). The model's gradients and
 *       running statistics are left as the user's pass left them;
 *   <li>every {@code invEvery} steps: the inverses (A + π√γ I)⁻¹ and (G + √γ/π I)⁻¹ (γ =
 *       damping, π the trace ratio; {@link DampingForm#FACTORED}, the default), or the
 *       eigendecompositions of A and G for the exact (A ⊗ G + γI)⁻¹ ({@link DampingForm#EIGEN},
 *       the PyTorch K-FAC's form; a decomposition that fails keeps the layer's previous inverse
 *       and says so once in the log);
 *   <li>the natural gradient n = (G + √γ/π I)⁻¹ U (A + π√γ I)⁻¹ of each K-FAC layer, U = [∇W |
 *       ∇b], computed from the training pass's recorded inputs and output gradients when that is
 *       cheaper (a batch smaller than the layer); n = the gradient for every other parameter;
 *   <li>the parameter step of the {@link ParameterStep} FishLeg takes too, by default in its
 *       {@link ParameterStep.Momentum#HEAVY_BALL} form, the one of the well-known PyTorch K-FAC
 *       implementations (the clipped natural gradient handed to SGD with momentum, without
 *       dampening): ν = min(1, √(κ / (η² |⟨n, g⟩|))) over all parameters together when klClip κ
 *       > 0, else 1; m ← βm + νn + wd·p (β = momentum, wd = weightDecay, an L2 term); p ← p −
 *       ηm. With {@code momentumForm(AVERAGE)} it is FishLeg's form instead: m ← βm + (1−β)n,
 *       ν from ⟨m, g⟩, p ← p(1 − wd) − νηm (decoupled weight decay).
 * </ol>
 *
 * <p>Step 0 is both a statistics and an inversion step, so preconditioning starts at the first
 * step with that step's factors (the first statistics update takes the estimate itself, or averages
 * it with the identity under {@link FactorInit#IDENTITY}; later ones average). Until a layer's factors are next refreshed its inverses stay as they are.
 *
 * <p>Which layers: the layers FishLeg would manage (same discovery and names, {@link
 * ManagedLayers}); of these, {@link ai.fishleg.curvature.RecordingLinear} layers get a {@link
 * LinearBlock} and {@link ai.fishleg.curvature.RecordingConv2d} layers (groups = 1) a {@link
 * Conv2dBlock}. K-FAC needs their recorded inputs and output gradients, which DJL's plain {@link
 * Linear} and {@link Conv2d} do not keep. Every other trainable parameter of the model (other
 * layer types, plain Linear/Conv2d layers, parameters of unsupported blocks) takes a plain
 * momentum-SGD step with the same rule and n = g, and the log says which at construction. The
 * loss must be a mean over the examples of the batch (as every {@link
 * ai.fishleg.likelihood.FishLikelihood} nll is); the statistics' scaling relies on it.
 *
 * <p>Usage, as {@code torch.optim}:
 *
 * <pre>{@code
 * try (Kfac opt = Kfac.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood),
 *                              curvatureBatches).lr(3e-3).damping(0.03).build()) {
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
 * <p>Native memory: the optimizer's state (factors, inverses, momenta) lives in one manager under
 * the model's parameters; every temporary of a step lives in a scope closed at its end.
 */
public final class Kfac implements CurvatureOptimizer {

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    private final Block model;
    private final KfacSettings settings;
    private final NDManager manager;
    private final LayerGroups layers;
    /** The groups of {@link #layers}; the index of each is its group in {@link #parameterStep}. */
    private final List<Group> groups;
    private final RecordedPasses passes;
    private final Map<String, Rng> rngs;
    /** Momentum, decoupled weight decay and klClip: the parameter update FishLeg uses too. */
    private final ParameterStep parameterStep;

    private double lr;
    private long stepCount;
    private long skippedSteps;
    /** Inversions that kept the previous inverses because a decomposition failed. */
    private long keptInversions;
    private KfacStep lastStep;

    private Kfac(Builder b) {
        this.model = b.model;
        this.settings = b.settings();
        this.lr = settings.lr();
        NDManager parent = ManagedLayers.parameterManager(model, "Kfac");
        this.manager = parent.newSubManager();
        this.parameterStep = new ParameterStep(new ParameterStep.Settings(
                settings.momentum(), settings.weightDecay(), ParameterStep.DecayTowards.ZERO,
                settings.klClip(), settings.momentumForm()), manager);
        LayerGroups built = null;
        boolean ok = false;
        try {
            built = new LayerGroups(model, settings.moduleNames(), settings.skipNames(), manager);
            for (Group g : built.list) {
                parameterStep.addGroup(() -> g.params, ParameterStep.StartValues.DISCARD);
                if (g.block != null) {
                    g.block.prepareFor(settings.dampingForm());
                }
            }
            built.startRecording();
            ok = true;
        } finally {
            if (!ok) {
                if (built != null) {
                    built.stopRecording();
                }
                manager.close();
            }
        }
        this.layers = built;
        this.groups = built.list;
        this.passes = new RecordedPasses(model, b.draw, b.nll, b.curvatureData, built);
        Map<String, Object> owners = new LinkedHashMap<>();
        owners.put("curvatureData", b.curvatureData);
        owners.put("draw", b.draw);
        this.rngs = RngOwner.generators(owners);
    }

    /**
     * Starts building an optimizer.
     *
     * @param model the network, initialised; its Linear and Conv2d layers should be {@link
     *     ai.fishleg.curvature.RecordingLinear} / {@link ai.fishleg.curvature.RecordingConv2d}
     * @param draw samples targets from the model's predictive distribution
     * @param nll the negative log-likelihood of the model on a batch, a mean over its examples
     * @param curvatureData hands out one batch per statistics update (for example random
     *     training batches)
     * @return the builder, with every default
     */
    public static Builder builder(
            Block model, DrawFunction draw, NllFunction nll, BatchSource curvatureData) {
        return new Builder(model, draw, nll, curvatureData);
    }

    // ---------------------------------------------------------------------------------------
    // the optimizer

    /**
     * Sets the gradient of every trainable parameter to zero and forgets the recorded passes. DJL
     * accumulates gradients, so call this before each training backward pass.
     */
    @Override
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            GuardedPass.zeroGradients(layers.trainable, scope);
        }
        layers.clearRecords();
    }

    /**
     * One step (see the class description), from the gradients of the last backward pass.
     * Nothing is written before everything is known to be finite: a non-finite gradient,
     * curvature statistic, inverse, natural gradient or new parameter throws a {@link
     * NonFiniteException} naming the layer and the quantity, with the state untouched, or skips
     * the step under {@link NonFinitePolicy#SKIP}. The model's gradients are left as they were.
     *
     * @throws NonFiniteException on a non-finite value under the THROW policy
     */
    @Override
    public void step() {
        try (Scope scope = Scope.open(manager)) {
            NDList[] grads = layers.currentGradients(scope);
            KroneckerFactoredBlock.Rows[] trainingRows = passes.trainingRows(grads, scope);
            layers.clearRecords();
            boolean cov = stepCount % settings.covEvery() == 0;
            boolean inv = stepCount % settings.invEvery() == 0;
            NDList[] factors = new NDList[groups.size()];
            DampedInverse[] inverses = new DampedInverse[groups.size()];
            if (cov) {
                passes.curvatureStatistics(factors, settings.statDecay(), settings.factorInit(),
                        settings.fisherSamples(), settings.fisherLabels(), scope);
            }
            NDList[] naturals = new NDList[groups.size()];
            int activationForm = 0;
            for (int gi = 0; gi < groups.size(); gi++) {
                KroneckerFactoredBlock block = groups.get(gi).block;
                if (block == null) { // a copy: the parameter step scales it in place
                    naturals[gi] = new NDList();
                    for (NDArray g : grads[gi]) {
                        naturals[gi].add(scope.own(g.duplicate()));
                    }
                    continue;
                }
                if (inv) {
                    NDList f = factors[gi] != null ? factors[gi] : new NDList(
                            scope.use(block.getInputFactor()), scope.use(block.getOutputFactor()));
                    Optional<DampedInverse> fresh =
                            DampedInverse.of(f, settings.damping(), settings.dampingForm(), scope);
                    if (fresh.isPresent()) {
                        inverses[gi] = fresh.get();
                    } else {
                        keptInverses(block);
                    }
                }
                DampedInverse use =
                        inverses[gi] != null ? inverses[gi] : block.currentInverses();
                if (trainingRows[gi] != null) {
                    naturals[gi] = block.precondition(use, trainingRows[gi], scope);
                    activationForm++;
                } else {
                    naturals[gi] = block.precondition(use, grads[gi], scope);
                }
            }
            ParameterStep.Proposal proposal = parameterStep.propose(naturals, grads, lr, scope);
            if (!NonFiniteCheck.allFinite(factors, inverses, proposal) && skips(NonFiniteCheck
                    .firstBad(groups, grads, factors, inverses, naturals, proposal))) {
                lastStep = new KfacStep(stepCount, cov, inv, true, 1, activationForm);
                return;
            }
            for (int gi = 0; gi < groups.size(); gi++) {
                if (groups.get(gi).block != null) {
                    groups.get(gi).block.commit(factors[gi], inverses[gi]);
                }
            }
            parameterStep.commit(proposal);
            lastStep = new KfacStep(stepCount, cov, inv, false, parameterStep.lastClipFactor(),
                    activationForm);
        }
        stepCount++;
    }

    /** Says once per run that a layer's eigendecomposition failed and its inverses were kept. */
    private void keptInverses(KroneckerFactoredBlock block) {
        keptInversions++;
        if (keptInversions == 1) {
            LOG.warn("K-FAC step {}: the eigendecomposition of a factor of {} did not converge;"
                    + " its previous damped inverse is kept (further such cases are counted, not"
                    + " logged)", stepCount, LayerSelection.displayName(block.getName()));
        }
    }

    /** Applies the non-finite policy: true if the step must be skipped (SKIP), throws under THROW. */
    private boolean skips(NonFiniteCheck.Bad bad) {
        if (settings.nonFinitePolicy() != NonFinitePolicy.SKIP) {
            throw bad.exception(stepCount);
        }
        skippedSteps++;
        LOG.warn("K-FAC step {} skipped: non-finite {} in {} (skipped so far: {})",
                stepCount, bad.quantity(), bad.where(), skippedSteps);
        return true;
    }

    // ---------------------------------------------------------------------------------------
    // state, for checkpoints

    /** @return every tensor of the optimizer's state by name (see {@link LayerGroups#stateTensors}) */
    Map<String, NDArray> stateTensors() {
        return layers.stateTensors(parameterStep);
    }

    /** @return the momentum, weight decay and klClip step, with its statistics (for {@link KfacState}) */
    ParameterStep parameterStep() {
        return parameterStep;
    }

    /** @return the random generators the optimizer reaches, by name (for {@link KfacState}) */
    Map<String, Rng> rngs() {
        return rngs;
    }

    /**
     * Sets the step counters and the learning rate of a resumed run, and forgets the recorded
     * passes (after {@link KfacState} restored the tensors).
     */
    void restoreCounts(long stepCount, long skippedSteps, double lr) {
        this.stepCount = stepCount;
        this.skippedSteps = skippedSteps;
        this.lr = lr;
        layers.clearRecords();
    }

    /**
     * @return the model's parameters (running statistics included), the factors, inverses and
     *     momenta, the counters and the random generators' states ({@link KfacState}), for {@link
     *     #save} and {@link #load}
     */
    @Override
    public CheckpointState checkpointState() {
        return new KfacState(this);
    }

    // ---------------------------------------------------------------------------------------
    // accessors

    /** @return every trainable parameter of the model (K-FAC steps the ones outside its blocks by SGD) */
    @Override
    public List<NDArray> getManagedParameters() {
        return List.copyOf(layers.trainable);
    }

    /** @return the K-FAC blocks, in model order */
    public List<KroneckerFactoredBlock> getBlocks() {
        return layers.blocks();
    }

    /**
     * @param name a layer's dotted name
     * @return its K-FAC block
     * @throws IllegalArgumentException if the layer has none
     */
    public KroneckerFactoredBlock getBlock(String name) {
        return layers.block(name);
    }

    /**
     * @return the names of the groups that take a momentum-SGD step: layer names, or DJL
     *     parameter names for parameters outside every selected layer
     */
    public List<String> getSgdGroups() {
        return layers.sgdGroups();
    }

    /**
     * @param name a group's name (a layer's dotted name, or a DJL parameter name)
     * @return its momentum buffers (live; each step replaces them), in parameter order
     */
    public NDList getMomentum(String name) {
        for (int gi = 0; gi < groups.size(); gi++) {
            if (groups.get(gi).name.equals(name)) {
                return parameterStep.momentum(gi);
            }
        }
        throw new IllegalArgumentException("K-FAC has no parameter group named '" + name + "'");
    }

    /** @return the settings */
    public KfacSettings getSettings() {
        return settings;
    }

    /** @return the current learning rate η */
    public double getLr() {
        return lr;
    }

    /**
     * Changes η (for learning-rate schedules).
     *
     * @param lr the new learning rate, finite and >= 0
     */
    public void setLr(double lr) {
        if (!(lr >= 0) || Double.isInfinite(lr)) {
            throw new IllegalArgumentException("lr must be a finite number >= 0, got " + lr);
        }
        this.lr = lr;
    }

    /** @return the number of completed steps */
    @Override
    public long getStepCount() {
        return stepCount;
    }

    /** @return steps skipped for a non-finite value (policy SKIP) */
    @Override
    public long getSkippedSteps() {
        return skippedSteps;
    }

    /**
     * @return inversions under EIGEN damping whose eigendecomposition failed, so that the layer
     *     kept its previous inverse
     */
    public long getKeptInversions() {
        return keptInversions;
    }

    /** @return what the last step did (empty before the first step) */
    @Override
    public Optional<KfacStep> lastStep() {
        return Optional.ofNullable(lastStep);
    }

    /** @return the trust-region factor ν of the last step (1 when not clipped or klClip off) */
    @Override
    public double getLastClipFactor() {
        return parameterStep.lastClipFactor();
    }

    /** @return the number of steps scaled down by klClip (ν < 1) */
    @Override
    public long getClippedSteps() {
        return parameterStep.clippedSteps();
    }

    /** @return the model */
    public Block getModel() {
        return model;
    }

    /** @return the manager that owns the optimizer's state */
    public NDManager getManager() {
        return manager;
    }

    /** Switches recording off and frees the optimizer's state. The model is not touched. */
    @Override
    public void close() {
        layers.stopRecording();
        manager.close();
    }

    // ---------------------------------------------------------------------------------------

    /** Builds a {@link Kfac}: the model and its functions here, every setting with its default in {@link KfacSettingsBuilder}. */
    public static final class Builder extends KfacSettingsBuilder<Builder> {
        private final Block model;
        private final DrawFunction draw;
        private final NllFunction nll;
        private final BatchSource curvatureData;

        private Builder(Block model, DrawFunction draw, NllFunction nll, BatchSource data) {
            this.model = Objects.requireNonNull(model, "model");
            this.draw = Objects.requireNonNull(draw, "draw");
            this.nll = Objects.requireNonNull(nll, "nll");
            this.curvatureData = Objects.requireNonNull(data, "curvatureData");
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * @return the optimizer
         * @throws IllegalArgumentException naming the setting or layer that is wrong
         */
        public Kfac build() {
            return new Kfac(this);
        }
    }
}
