package ai.fishleg.optim;

import ai.djl.Device;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.layers.FishLinear;
import ai.fishleg.layers.LayerRegistry;
import ai.fishleg.layers.RecordingLinear;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The FishLeg optimizer (Garcia et al., ICLR 2023): learns online a block-diagonal model Q(λ) of
 * the inverse damped Fisher matrix (F + γI)⁻¹ by minimising an auxiliary loss, and moves the
 * parameters along the natural gradient Q(λ)g with momentum.
 *
 * <p>Usage mirrors {@code torch.optim}: compute the gradient of the loss, then call {@link
 * #step()}:
 *
 * <pre>{@code
 * FishLikelihood likelihood = new BernoulliLikelihood();
 * try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood),
 *                                    NllFunction.of(likelihood), auxData)
 *         .fishLr(0.02).damping(0.3).build()) {
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
 * CurvatureBlock}) and, when the likelihood has learnable parameters, those too. Layers are found
 * at any depth of the model ({@code SequentialBlock}, {@code ParallelBlock}, user blocks with
 * children) and named by their dotted paths (see {@link LayerSelection}), for example {@code
 * 02SequentialBlock.01Linear}; {@link #describeLayers(Block)} lists them with the sizes of their
 * blocks of Q. Parameters of other layers are left alone (as in the reference) and listed by
 * {@link #getUnmanagedParameters()} and in the log, so nothing is frozen silently.
 *
 * <p>This class is a facade: the parameter update is {@link ParameterStep}, the auxiliary update
 * of λ {@link AuxiliaryUpdate}, the non-finite policy {@link NonFiniteGuard}, the initial Q {@link
 * Warmup}, pre-training {@link Pretraining}, and what a run changes {@link FishLegState} (see
 * docs/ARCHITECTURE.md).
 *
 * <p>Native memory: the optimizer owns one {@link NDManager} (a child of the model's parameter
 * manager) for λ, momentum, stored gradients and Adam moments; every temporary of a step lives in a
 * sub-manager closed at the end of the step. Close the optimizer to free its state.
 */
public final class FishLeg implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FishLeg.class);

    /** Name of the likelihood's curvature block. */
    public static final String LIKELIHOOD_BLOCK = "likelihood";

    private final Block model;
    private final Hyperparameters hp;
    private final NDManager manager;
    private final List<BlockState> blocks;
    private final List<String> unmanagedParameters;
    private final RunStatistics stats = new RunStatistics();
    private final LinearBlocks linear;
    private final ModelPasses passes;
    private final ParameterStep parameterStep;
    private final AuxiliaryUpdate aux;
    private final NonFiniteGuard guard;
    private final Warmup warmup;
    private final Pretraining pretraining;
    private final FishLegState state;

    private FishLeg(Builder b) {
        this.model = b.model;
        this.hp = b.toHyperparameters();
        if (hp.warmup() > 0 && (b.warmupData == null || b.warmupLoss == null)) {
            throw new IllegalArgumentException(
                    "warmup = " + hp.warmup() + " > 0 needs warmupData and warmupLoss (the"
                            + " diagonal warm-up estimates squared gradients from them); set both,"
                            + " or use warmup = 0 for Q0 = scale·I");
        }
        if (b.config != null) {
            throw new IllegalArgumentException(
                    "config is only used by the reference's BERT attention block, which FishLeg4J"
                            + " does not provide; leave it unset");
        }
        NDManager parent = ModelPasses.parameterManager(model);
        this.manager = parent.newSubManager(b.device != null ? b.device : parent.getDevice());
        boolean ok = false;
        try {
            Rng rng = new Rng(hp.seed());
            this.blocks = BlockState.createAll(model, b.likelihood, hp, rng, manager);
            this.parameterStep = new ParameterStep(new ParameterStep.Settings(
                    hp.beta(), hp.weightDecay(), hp.fineTune(), hp.klClip()), manager);
            for (BlockState g : blocks) { // θ0 is kept for the likelihood even without fineTune
                parameterStep.addGroup(g.block()::getParameterArrays,
                        hp.fineTune() || g.block().getLayer() == null);
            }
            this.linear = new LinearBlocks(blocks, hp.batchSpeedup());
            this.passes = new ModelPasses(model, b.draw, b.nll, b.likelihood, linear, manager);
            this.unmanagedParameters = BlockState.unmanaged(model, blocks);
            if (!unmanagedParameters.isEmpty()) {
                LOG.info("FishLeg does not manage these parameters (they change only if another"
                        + " optimizer trains them): {}", unmanagedParameters);
            }
            this.aux = new AuxiliaryUpdate(hp, blocks, passes, b.auxData, stats, rng, manager);
            this.guard = new NonFiniteGuard(hp.nonFinitePolicy(), blocks, stats);
            this.warmup = new Warmup(hp, blocks, passes, manager);
            this.pretraining = new Pretraining(hp, blocks, passes, aux, manager);
            warmupAux(b.warmupData, b.warmupLoss, hp.scale());
            Map<String, Object> owners = new LinkedHashMap<>();
            owners.put("optimizer", rng);
            owners.put("auxData", b.auxData);
            owners.put("draw", b.draw);
            owners.put("likelihood", b.likelihood);
            this.state = new FishLegState(model, hp, blocks, parameterStep, aux.adam(), stats,
                    FishLegState.generators(owners));
            ok = true;
        } finally {
            if (!ok) {
                manager.close();
            }
        }
    }

    /**
     * Starts building an optimizer (the reference constructor's four required arguments).
     *
     * @param model the network, initialised (its parameters exist)
     * @param draw samples targets from the model's predictive distribution
     * @param nll the negative log-likelihood (batch mean) of the model on a batch
     * @param auxData hands out one random batch per auxiliary update
     * @return the builder, with the seed's defaults
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
     * {@link #describeLayers(Block)} under a selection.
     *
     * @param model an initialised model
     * @param moduleNames as {@link Builder#moduleNames(List)}
     * @param skipNames as {@link Builder#skipNames(List)}
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
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            passes.zeroGradients(scope);
        }
    }

    /**
     * One optimisation step (SPEC section 5), from the gradients left by the last backward pass:
     *
     * <ol>
     *   <li>on an auxiliary step ({@code updateAuxEvery} k > 0 and step % k == 0, or k < 0), store
     *       u ← gradient and run one (or |k|) {@link #updateAux auxiliary updates};
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
    public void step() {
        try (Scope scope = Scope.open(manager)) {
            NDList[] grads = passes.currentGradients(blocks, scope);
            if (stats.steps() == 0) {
                ModelPasses.requireGradients(
                        grads, blocks.get(0).block().getParameterArrays().get(0), scope);
            }
            FishLinear.GradientFactors[] factors = linear.recordedFactors(grads, scope);
            linear.clearRecords();
            int k = hp.updateAuxEvery();
            boolean auxStep = (k > 0 && stats.steps() % k == 0) || k < 0;
            List<NDList> reusable = null; // Q(λ)u of the last auxiliary update, if λ kept still
            if (auxStep) {
                // u trains λ, so a non-finite gradient must be caught before it is stored.
                if (!NonFiniteGuard.allFinite(grads) && guard.rejects(grads, "gradient")) {
                    return;
                }
                for (int gi = 0; gi < blocks.size(); gi++) {
                    blocks.get(gi).store(grads[gi], factors[gi], manager);
                }
                for (int i = 0; i < (k > 0 ? 1 : -k); i++) {
                    reusable = aux.update(true, true, scope.manager()).products();
                }
            }
            NDList[] naturals = naturalGradients(auxStep ? null : grads, factors, reusable, scope);
            ParameterStep.Proposal proposal =
                    parameterStep.propose(naturals, grads, state.fishLr, scope);
            if (!proposal.isFinite()
                    && guard.rejectsStep(auxStep ? null : grads, naturals, proposal)) {
                return;
            }
            parameterStep.commit(proposal);
        }
        stats.stepDone();
    }

    /**
     * n = Q(λ)v per block: v = u (or the reused product) after an auxiliary update, else the
     * current gradient.
     *
     * @param grads the current gradients, or null on an auxiliary step
     */
    private NDList[] naturalGradients(NDList[] grads, FishLinear.GradientFactors[] factors,
            List<NDList> reusable, Scope scope) {
        NDList[] naturals = new NDList[blocks.size()];
        int factored = 0;
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            scope.use(g.u());
            if (reusable != null) {
                naturals[gi] = reusable.get(gi);
                continue;
            }
            FishLinear.GradientFactors f = grads == null ? g.uFactors() : factors[gi];
            naturals[gi] = LinearBlocks.naturalGradient(
                    g.block(), grads == null ? g.u() : grads[gi], f, scope);
            factored += f == null ? 0 : 1;
        }
        stats.setLastFactoredBlocks(factored);
        return naturals;
    }

    /**
     * One auxiliary update of λ ({@link AuxiliaryUpdate}): draws a random auxiliary batch, samples
     * targets from the model ({@code fisher}) or uses the batch's own targets (empirical Fisher),
     * takes the direction u (the stored gradient, or Gaussian with {@code uSampling}), V = Q(λ)u,
     * an estimate F̂V of the Fisher times V ({@code estimator}) and the auxiliary loss ½(γ⟨V,V⟩ +
     * ⟨V,F̂V⟩) − ⟨u,V⟩ (divided by ‖u‖² with {@code normalization}); if {@code train}, takes one
     * Adam step on λ with its analytic gradient. The model's parameters, gradients and running
     * statistics are left as they were.
     *
     * @param train whether to update λ (false only evaluates)
     * @param fisher true: targets drawn from the model; false: the batch's targets
     * @return the loss and its terms
     */
    public AuxInfo updateAux(boolean train, boolean fisher) {
        return aux.update(train, fisher, null).info();
    }

    /** The auxiliary loss and its λ-gradient on one batch, changing no λ (for tests). */
    AuxiliaryUpdate.Evaluation evaluateAux(Scope scope, boolean fisher, boolean withGradient) {
        return aux.evaluate(scope, fisher, withGradient, false);
    }

    /** @return the learning rate of the next auxiliary Adam step (linear decay when numSteps > 0) */
    public double currentAuxLr() {
        return aux.currentLr();
    }

    /**
     * Sets the initial Q ({@link Warmup}): without data (or with {@code warmup = 0}) every block
     * is scaled so that Q0 = s·I (each call multiplies, as in the reference); with data and a loss,
     * diag(Q0) = s²/(g² + γ) from the squared gradients of {@code ceil(warmup / batch size)}
     * batches. Running statistics of the model are left as they were.
     *
     * @param data warm-up batches, or null
     * @param loss the loss whose gradients are squared, or null
     * @param scale the scale s
     */
    public void warmupAux(BatchSource data, NllFunction loss, double scale) {
        warmup.run(data, loss, scale);
    }

    /**
     * Learns λ without moving the parameters (SPEC section 15), for example on a pre-training task
     * before fine-tuning. Each iteration stores u ← ∇loss on a random batch (minus the gradient
     * on a second batch when {@code difference}) and runs one auxiliary update.
     *
     * @param data batches for u
     * @param loss the loss whose gradient is u
     * @param iterations number of auxiliary updates
     * @param difference use the difference of two minibatch gradients as u
     * @param verbose log progress every {@code reportEvery} iterations
     * @param testData if not null and verbose, also report the average check over 100 evaluation
     *     updates on this data
     * @param reportEvery report interval in iterations (the reference's {@code batch_size})
     * @param fisher sample targets from the model (true) or use the batch's targets
     * @return per iteration, auxLoss + ½·linearTerm (0 at the optimum; with normalization the
     *     linear term is normalised too, SPEC 15 [FIX])
     */
    public List<Double> pretrainFish(BatchSource data, NllFunction loss, int iterations,
            boolean difference, boolean verbose, BatchSource testData, int reportEvery,
            boolean fisher) {
        return pretraining.run(
                data, loss, iterations, difference, verbose, testData, reportEvery, fisher);
    }

    /**
     * {@link #pretrainFish(BatchSource, NllFunction, int, boolean, boolean, BatchSource, int,
     * boolean)} with the reference's defaults (no difference, quiet, Fisher sampling).
     *
     * @param data batches for u
     * @param loss the loss whose gradient is u
     * @param iterations number of auxiliary updates
     * @return per iteration, auxLoss + ½·linearTerm
     */
    public List<Double> pretrainFish(BatchSource data, NllFunction loss, int iterations) {
        return pretrainFish(data, loss, iterations, false, false, null, 500, true);
    }

    /**
     * Saves the complete state of this optimizer and its model ({@link FishLegState}) in a
     * {@link Checkpoint}, atomically.
     *
     * @param file the checkpoint file
     * @throws IOException if writing fails; a previous file is then left intact
     */
    public void save(Path file) throws IOException {
        save(file, Map.of());
    }

    /**
     * {@link #save(Path)} with the caller's own entries (for example a data loader's position),
     * handed back by {@link #load}.
     *
     * @param file the checkpoint file
     * @param metadata string entries stored with the state
     * @throws IOException if writing fails; a previous file is then left intact
     */
    public void save(Path file, Map<String, String> metadata) throws IOException {
        Checkpoint.save(state, file, metadata);
    }

    /**
     * Restores a state written by {@link #save}; the optimizer must manage the same layers of a
     * model of the same shapes.
     *
     * @param file the checkpoint file
     * @return the caller's entries saved with it (empty for {@link #save(Path)})
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it is not a valid checkpoint or does not match (nothing
     *     is changed then)
     */
    public Map<String, String> load(Path file) throws IOException {
        return Checkpoint.load(state, file);
    }

    /** @return the state a checkpoint saves and restores */
    FishLegState checkpointState() {
        return state;
    }

    /** @return the curvature blocks, in parameter-group order */
    public List<CurvatureBlock> getBlocks() {
        return blocks.stream().map(BlockState::block).toList();
    }

    /**
     * @param name a layer's dotted name (or {@value #LIKELIHOOD_BLOCK})
     * @return its curvature block
     * @throws IllegalArgumentException if FishLeg does not manage it
     */
    public CurvatureBlock getBlock(String name) {
        return blocks.get(index(name)).block();
    }

    /** @return the dotted names of the managed layers (and the likelihood block) */
    public List<String> managedNames() {
        return blocks.stream().map(g -> g.block().getName()).toList();
    }

    /**
     * @return DJL names of the trainable parameters FishLeg does not manage (they are never
     *     changed by this optimizer)
     */
    public List<String> getUnmanagedParameters() {
        return unmanagedParameters;
    }

    /** @return the settings */
    public Hyperparameters getHyperparameters() {
        return hp;
    }

    /** @return the current parameter step size η */
    public double getFishLr() {
        return state.fishLr;
    }

    /**
     * Changes η (for learning-rate schedules).
     *
     * @param fishLr the new step size, finite and >= 0
     */
    public void setFishLr(double fishLr) {
        if (!(fishLr >= 0) || Double.isInfinite(fishLr)) {
            throw new IllegalArgumentException("fishLr must be a finite number >= 0, got " + fishLr);
        }
        state.fishLr = fishLr;
    }

    /** @return the number of completed {@link #step()} calls */
    public long getStepCount() {
        return stats.steps();
    }

    /** @return the number of auxiliary Adam steps taken so far */
    public long getAuxUpdateCount() {
        return stats.auxUpdates();
    }

    /** @return the last auxiliary loss of a training auxiliary update (NaN before the first) */
    public double getAuxLoss() {
        return stats.auxLoss();
    }

    /** @return steps skipped for a non-finite value (policy SKIP) */
    public long getSkippedSteps() {
        return stats.skippedSteps();
    }

    /** @return auxiliary updates skipped because their loss or λ-gradient was not finite */
    public long getSkippedAuxUpdates() {
        return stats.skippedAuxUpdates();
    }

    /** @return the trust-region factor ν of the last step (1 when not clipped or klClip off) */
    public double getLastClipFactor() {
        return parameterStep.lastClipFactor();
    }

    /** @return the number of steps whose update was scaled down by klClip (ν < 1) */
    public long getClippedSteps() {
        return parameterStep.clippedSteps();
    }

    /**
     * @return how many blocks the last step applied Q to recorded gradient factors rather than to
     *     the formed gradient (batchSpeedup with {@link RecordingLinear} layers; 0 otherwise)
     */
    public int getLastFactoredBlocks() {
        return stats.lastFactoredBlocks();
    }

    /** @return the result of the last auxiliary update, or null */
    public AuxInfo getLastAuxInfo() {
        return stats.lastAuxInfo();
    }

    /**
     * @param name a managed layer's dotted name
     * @return its momentum buffers (live), in block order
     */
    public NDList getMomentum(String name) {
        return parameterStep.momentum(index(name));
    }

    /**
     * @param name a managed layer's dotted name
     * @return its stored gradient u (live), in block order
     */
    public NDList getStoredGradient(String name) {
        return blocks.get(index(name)).u();
    }

    private int index(String name) {
        for (int gi = 0; gi < blocks.size(); gi++) {
            if (blocks.get(gi).block().getName().equals(name)) {
                return gi;
            }
        }
        throw new IllegalArgumentException(
                "FishLeg manages no layer named '" + name + "'; managed: " + managedNames());
    }

    /** @return the model */
    public Block getModel() {
        return model;
    }

    /** @return the manager that owns the optimizer's state */
    public NDManager getManager() {
        return manager;
    }

    /** Frees λ, momentum, stored gradients and Adam moments. The model is not touched. */
    @Override
    public void close() {
        linear.close();
        manager.close();
    }

    /**
     * Builds a {@link FishLeg}: the four required arguments, the settings (named setters with the
     * seed's defaults, {@link HyperparameterSetters}), and what is not a setting: the likelihood,
     * the warm-up's data and loss, the device.
     */
    public static final class Builder extends HyperparameterSetters<Builder> {
        private final Block model;
        private final DrawFunction draw;
        private final NllFunction nll;
        private final BatchSource auxData;
        private FishLikelihood likelihood;
        private BatchSource warmupData;
        private NllFunction warmupLoss;
        private Device device;
        private Object config;

        private Builder(Block model, DrawFunction draw, NllFunction nll, BatchSource auxData) {
            this.model = Objects.requireNonNull(model, "model");
            this.draw = Objects.requireNonNull(draw, "draw");
            this.nll = Objects.requireNonNull(nll, "nll");
            this.auxData = Objects.requireNonNull(auxData, "auxData");
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * @param v a likelihood; only used when it has learnable parameters, which then get their
         *     own curvature block
         * @return this
         */
        public Builder likelihood(FishLikelihood v) {
            this.likelihood = v;
            return this;
        }

        /** @param v batches for the warm-up ({@link #warmup(int)} > 0) @return this */
        public Builder warmupData(BatchSource v) {
            this.warmupData = v;
            return this;
        }

        /** @param v loss whose squared gradients the warm-up averages @return this */
        public Builder warmupLoss(NllFunction v) {
            this.warmupLoss = v;
            return this;
        }

        /** @param v device of the optimizer's state (default: the parameters') @return this */
        public Builder device(Device v) {
            this.device = v;
            return this;
        }

        /**
         * Exists for parity with the reference signature only: there {@code config} builds the
         * replacement of a HuggingFace BERT attention block, which FishLeg4J does not provide.
         *
         * @param v must be null (a non-null value is rejected at {@link #build()})
         * @return this
         */
        public Builder config(Object v) {
            this.config = v;
            return this;
        }

        /**
         * Builds the optimizer: selects and attaches the curvature blocks, warms Q up and creates
         * the auxiliary Adam.
         *
         * @return the optimizer
         * @throws IllegalArgumentException naming the setting or layer that is wrong
         */
        public FishLeg build() {
            return new FishLeg(this);
        }
    }
}
