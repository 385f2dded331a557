package ai.fishleg.optim;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.layers.CurvatureOptions;
import ai.fishleg.layers.FishLinear;
import ai.fishleg.layers.LayerRegistry;
import ai.fishleg.layers.RecordingLinear;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.select.NamedLayer;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
 * <p>Native memory: the optimizer owns one {@link NDManager} (a child of the model's parameter
 * manager) for λ, momentum, stored gradients and Adam moments; every temporary of a step lives in a
 * sub-manager closed at the end of the step. Close the optimizer to free its state.
 */
public final class FishLeg implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FishLeg.class);

    /** Name of the likelihood's curvature block. */
    public static final String LIKELIHOOD_BLOCK = "likelihood";

    private final Block model;
    private final DrawFunction draw;
    private final NllFunction nll;
    private final BatchSource auxData;
    private final FishLikelihood likelihood;
    private final Hyperparameters hp;
    private final NDManager manager;
    private final List<BlockState> blocks = new ArrayList<>();
    /** The model's gradients, saved and restored around FishLeg's own backward passes. */
    private final ModelGradients gradients;
    private final List<String> unmanagedParameters;
    private final AuxAdam auxAdam;
    private final Rng rng;
    private final Map<String, Rng> rngs = new LinkedHashMap<>();
    private final RunStatistics stats = new RunStatistics();
    private final FishLegState state;
    private final ModelState modelState;
    private final FisherEstimator fisherEstimator;
    private final ParameterStep parameterStep;

    /** Blocks whose natural gradient the last step took from gradient factors (for tests). */
    int lastFactoredBlocks;

    private FishLeg(Builder b) {
        this.model = b.model;
        this.draw = b.draw;
        this.nll = b.nll;
        this.auxData = b.auxData;
        this.likelihood = b.likelihood;
        this.hp = b.hyperparameters();
        this.rng = new Rng(hp.seed());
        this.modelState = new ModelState(model);
        this.fisherEstimator = hp.estimator().create(hp);
        ParameterStep.Settings stepSettings = new ParameterStep.Settings(
                hp.beta(), hp.weightDecay(), hp.fineTune(), hp.klClip());
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
        NDManager parent = firstParameterArray(model).getManager();
        this.manager = parent.newSubManager(b.device != null ? b.device : parent.getDevice());
        this.parameterStep = new ParameterStep(stepSettings, manager);
        boolean ok = false;
        try {
            CurvatureOptions options = new CurvatureOptions(hp.full(), hp.batchSpeedup());
            for (NamedLayer layer : ManagedLayers.select(
                    model, hp.moduleNames(), hp.strictModuleNames(), hp.skipNames())) {
                CurvatureBlock block =
                        LayerRegistry.factoryFor(layer.layer())
                                .create(layer.layerName(), layer.layer(), manager, options);
                reinitialize(block);
                blocks.add(new BlockState(block, manager));
                String msg = "FishLeg manages {} ({}, {} parameters)";
                if (hp.verbose()) {
                    LOG.info(msg, displayName(block.getName()), block, block.parameterSize());
                } else {
                    LOG.debug(msg, displayName(block.getName()), block, block.parameterSize());
                }
            }
            if (blocks.isEmpty()) {
                throw new IllegalArgumentException(
                        "FishLeg found no layer it can manage in the model (supported types: "
                                + LayerRegistry.supportedTypes() + "; moduleNames "
                                + hp.moduleNames() + ", skipNames " + hp.skipNames()
                                + "; layers in the model: " + layerTypes() + ")");
            }
            if (likelihood != null && !likelihood.getParameters().isEmpty()) {
                CurvatureBlock lb = likelihood.createCurvatureBlock(manager, hp.scale());
                blocks.add(new BlockState(lb, manager));
            }
            for (BlockState g : blocks) {
                // θ0 is kept for the likelihood block even without fineTune (as the reference)
                parameterStep.addGroup(g.block()::getParameterArrays,
                        hp.fineTune() || g.block().getLayer() == null);
            }
            this.gradients = new ModelGradients(model, collectTrainableArrays(), manager);
            this.unmanagedParameters = collectUnmanaged();
            if (!unmanagedParameters.isEmpty()) {
                LOG.info(
                        "FishLeg does not manage these parameters (they change only if another"
                                + " optimizer trains them): {}",
                        unmanagedParameters);
            }
            if (hp.warmup() > 0) {
                warmupAux(b.warmupData, b.warmupLoss, hp.scale());
            } else {
                warmupAux(null, null, hp.scale());
            }
            this.auxAdam = new AuxAdam(hp.auxBeta1(), hp.auxBeta2(), hp.auxEps(), manager);
            for (BlockState g : blocks) {
                for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                    if (g.block().isTrainable(e.getKey())) {
                        auxAdam.register(e.getValue());
                    }
                }
            }
            if (hp.batchSpeedup()) {
                for (FishLinear fl : recordingBlocks(false)) {
                    fl.setRecording(true);
                }
            }
            addRng("optimizer", rng);
            addRng("auxData", auxData);
            addRng("draw", draw);
            addRng("likelihood", likelihood);
            this.state = new FishLegState(
                    model, hp, blocks, parameterStep, auxAdam, stats, rngs);
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

    // ---------------------------------------------------------------------------------------
    // construction helpers

    private static NDArray firstParameterArray(Block model) {
        Objects.requireNonNull(model, "model");
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (!p.getValue().isInitialized()) {
                throw new IllegalArgumentException(
                        "parameter " + p.getKey() + " of the model is not initialised: call"
                                + " model.initialize(manager, dataType, inputShape) before building"
                                + " FishLeg");
            }
        }
        for (Pair<String, Parameter> p : model.getParameters()) {
            return p.getValue().getArray();
        }
        throw new IllegalArgumentException(
                "the model has no parameters, so there is nothing for FishLeg to optimise");
    }

    private void addRng(String name, Object owner) {
        Rng r = owner instanceof Rng ? (Rng) owner
                : owner instanceof RngOwner ? ((RngOwner) owner).getRng() : null;
        if (r != null && rngs.values().stream().noneMatch(x -> x == r)) {
            rngs.put(name, r);
        }
    }

    private NDArray own(NDArray a) {
        a.attach(manager);
        return a;
    }

    private void reinitialize(CurvatureBlock block) {
        if (!(block instanceof FishLinear) || hp.initialization() == Initialization.UNIFORM) {
            return;
        }
        FishLinear linear = (FishLinear) block;
        List<NDArray> params = block.getParameterArrays();
        NDArray w = params.get(0);
        if (hp.initialization() == Initialization.ZERO) {
            for (NDArray p : params) {
                Tensors.zero(p);
            }
        } else {
            double std = 1.0 / Math.sqrt(linear.getInFeatures());
            double[] z = rng.gaussians(Math.toIntExact(w.size()));
            for (int i = 0; i < z.length; i++) {
                z[i] *= std;
            }
            try (NDArray init = Tensors.create(manager, z, w.getShape(), w.getDataType())) {
                Tensors.assign(w, init);
            }
        }
    }

    private List<NDArray> collectTrainableArrays() {
        List<NDArray> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient()) {
                out.add(p.getValue().getArray());
            }
        }
        if (likelihood != null) {
            out.addAll(likelihood.getParameters());
        }
        return out;
    }

    private List<String> collectUnmanaged() {
        Set<NDArray> managed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (BlockState g : blocks) {
            managed.addAll(g.block().getParameterArrays());
        }
        List<String> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient() && !managed.contains(p.getValue().getArray())) {
                out.add(p.getKey());
            }
        }
        return List.copyOf(out);
    }

    private String layerTypes() {
        List<String> out = new ArrayList<>();
        for (NamedLayer n : LayerSelection.namedLayers(model)) {
            if (!n.layer().getDirectParameters().isEmpty()) {
                out.add(displayName(n.layerName()) + ":" + n.layer().getClass().getSimpleName());
            }
        }
        return out.toString();
    }

    private static String displayName(String name) {
        return LayerSelection.displayName(name);
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

    // ---------------------------------------------------------------------------------------
    // the optimizer

    /**
     * Sets every gradient of the model's trainable parameters (and of learnable likelihood
     * parameters) to zero. DJL accumulates gradients across backward passes, so call this before
     * each training backward pass, as {@code optimizer.zero_grad()} in PyTorch.
     */
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            gradients.zero(scope);
        }
        clearRecords();
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
            NDList[] grads = currentGradients(scope);
            if (stats.steps() == 0) {
                requireGradients(grads, scope);
            }
            FishLinear.GradientFactors[] factors = recordedFactors(grads, scope);
            clearRecords();
            int k = hp.updateAuxEvery();
            boolean updated = (k > 0 && stats.steps() % k == 0) || k < 0;
            if (updated) {
                // u trains λ, so a non-finite gradient must be caught before it is stored.
                if (!allFinite(grads) && rejectsNonFinite(grads, "gradient")) {
                    return;
                }
                storeGradients(grads, factors);
            }
            // Q(λ)u from the last auxiliary update, when that update left λ unchanged.
            ReuseTarget reuse = new ReuseTarget(scope.manager(), new ArrayList<>());
            for (int i = 0; updated && i < (k > 0 ? 1 : -k); i++) {
                reuse.products().clear();
                updateAux(true, true, reuse);
            }
            NDList[] naturals = naturalGradients(grads, factors, updated, reuse, scope);
            ParameterStep.Proposal proposal = parameterStep.propose(naturals, grads, state.fishLr, scope);
            // Nothing non-finite may be written: one check over what is about to be written.
            // Only when it fails are the quantities tested one by one, in order, to name the
            // first bad one (the natural gradients then hold (1−β)n, finite exactly when n is).
            if (!proposal.isFinite()
                    && ((!updated && rejectsNonFinite(grads, "gradient"))
                            || rejectsNonFinite(naturals, "natural gradient")
                            || rejectsNonFinite(proposal.momenta(), "momentum")
                            || rejectsNonFinite(proposal.parameters(), "updated parameter"))) {
                return;
            }
            parameterStep.commit(proposal);
        }
        stats.stepDone();
    }

    /** n = Q(λ)v per block: v = u on auxiliary steps (or the reused product), else the gradient. */
    private NDList[] naturalGradients(NDList[] grads, FishLinear.GradientFactors[] factors,
            boolean updated, ReuseTarget reuse, Scope scope) {
        NDList[] naturals = new NDList[blocks.size()];
        lastFactoredBlocks = 0;
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            scope.use(g.u());
            naturals[gi] = !reuse.products().isEmpty() ? reuse.products().get(gi)
                    : naturalGradient(g, updated ? g.u() : grads[gi],
                            updated ? g.uFactors() : factors[gi], scope);
        }
        return naturals;
    }

    /**
     * Whether every element of every array is finite, with one reduction per array and a single
     * read-back ({@link Tensors#allFinite}).
     *
     * @param values per-group lists; null entries are skipped
     */
    private static boolean allFinite(NDList[]... values) {
        List<NDArray> arrays = new ArrayList<>();
        for (NDList[] perGroup : values) {
            if (perGroup != null) {
                for (NDList list : perGroup) {
                    arrays.addAll(list);
                }
            }
        }
        return Tensors.allFinite(arrays);
    }

    /**
     * Applies the non-finite policy to per-group values: returns false if all are finite; true if
     * the step must be skipped (SKIP, counted); throws under THROW.
     */
    private boolean rejectsNonFinite(NDList[] values, String quantity) {
        for (int gi = 0; gi < values.length; gi++) {
            for (int i = 0; i < values[gi].size(); i++) {
                if (!Tensors.isFinite(values[gi].get(i))) {
                    CurvatureBlock b = blocks.get(gi).block();
                    String where = displayName(b.getName()) + " (" + b.getOrder().get(i) + ")";
                    if (hp.nonFinitePolicy() == NonFinitePolicy.SKIP) {
                        LOG.warn("step {} skipped: non-finite {} in layer {} (skipped so far: {})",
                                stats.steps(), quantity, where, stats.stepSkipped());
                        return true;
                    }
                    throw new NonFiniteException(b.getName(), b.getOrder().get(i), quantity,
                            "non-finite " + quantity + " in layer " + where + " at step "
                                    + stats.steps() + "; parameters and momentum were left as they"
                                    + " were (lower fishLr, set klClip, or use"
                                    + " nonFinitePolicy(SKIP) to skip such steps)");
                }
            }
        }
        return false;
    }

    /** u ← the given gradients of every managed parameter, with their factors where known. */
    private void storeGradients(NDList[] grads, FishLinear.GradientFactors[] factors) {
        for (int gi = 0; gi < blocks.size(); gi++) {
            blocks.get(gi).store(grads[gi], factors[gi], manager);
        }
    }

    // ---------------------------------------------------------------------------------------
    // batchSpeedup: gradients of RecordingLinear layers in factored form (SPEC 9)

    /**
     * The managed linear blocks whose layers are {@link RecordingLinear}s.
     *
     * @param recordingOnly only those recording now
     */
    private List<FishLinear> recordingBlocks(boolean recordingOnly) {
        List<FishLinear> out = new ArrayList<>();
        for (BlockState g : blocks) {
            if (g.block() instanceof FishLinear fl && fl.canRecord()
                    && (!recordingOnly || fl.isRecording())) {
                out.add(fl);
            }
        }
        return out;
    }

    private void clearRecords() {
        for (FishLinear fl : recordingBlocks(false)) {
            fl.clearRecord();
        }
    }

    /** Resumes what was paused. */
    private interface Resume extends AutoCloseable {
        @Override
        void close();
    }

    /** Pauses recording for FishLeg's own passes; closing it resumes. */
    private Resume pauseRecording() {
        List<FishLinear> paused = recordingBlocks(true);
        for (FishLinear fl : paused) {
            fl.setRecording(false);
        }
        return () -> {
            for (FishLinear fl : paused) {
                fl.setRecording(true);
            }
        };
    }

    /**
     * The recorded factors of each group's current gradient where Qg is cheaper than Qv, checked
     * against the gradients (one read-back for all layers); null elsewhere, and for every layer
     * whose record does not reproduce its gradient (for example when gradients were cleared
     * without {@link #zeroGrad()}), so that Q is then applied to the gradient itself.
     */
    private FishLinear.GradientFactors[] recordedFactors(NDList[] grads, Scope scope) {
        FishLinear.GradientFactors[] out = new FishLinear.GradientFactors[blocks.size()];
        List<Integer> found = new ArrayList<>();
        NDList mismatches = new NDList();
        for (int gi = 0; gi < blocks.size(); gi++) {
            if (!(blocks.get(gi).block() instanceof FishLinear fl) || !fl.isRecording()) {
                continue;
            }
            FishLinear.GradientFactors f = fl.recordedFactors(scope.manager());
            if (f != null && fl.factorsPayOff(f.rows())) {
                out[gi] = f;
                found.add(gi);
                mismatches.add(fl.factorMismatch(f, grads[gi]));
            }
        }
        if (found.isEmpty()) {
            return out;
        }
        double[] m;
        try (NDArray all = NDArrays.concat(mismatches);
                NDArray d = all.toType(ai.djl.ndarray.types.DataType.FLOAT64, false)) {
            m = d.toDoubleArray();
        }
        for (int j = 0; j < found.size(); j++) {
            int gi = found.get(j);
            double tolerance = grads[gi].get(0).getDataType()
                    == ai.djl.ndarray.types.DataType.FLOAT64 ? 1e-9 : 1e-3;
            if (!(m[2 * j] <= tolerance * tolerance * m[2 * j + 1])) {
                LOG.debug("layer {}: the recorded passes do not reproduce the gradient; Qv is"
                        + " applied to the gradient", displayName(blocks.get(gi).block().getName()));
                out[gi] = null;
            }
        }
        return out;
    }

    /** Q(λ)v, from the factors of v when there are any (then v is their product). */
    private NDList naturalGradient(
            BlockState g, NDList v, FishLinear.GradientFactors factors, Scope scope) {
        if (factors == null) {
            return g.block().qv(v);
        }
        lastFactoredBlocks++;
        factors.use(scope);
        return ((FishLinear) g.block()).qg(factors);
    }

    /** The tape of V = Q(λ)u, from u's factors when u is the stored gradient and has them. */
    private CurvatureBlock.Tape auxTape(BlockState g, NDList u, Scope scope) {
        if (g.uFactors() == null || hp.uSampling() != USampling.GRADIENT) {
            return g.block().qvTape(u);
        }
        g.uFactors().use(scope);
        return ((FishLinear) g.block()).factoredTape(g.uFactors());
    }

    /** The gradient of every managed parameter, per group, attached to the scope. */
    private NDList[] currentGradients(Scope scope) {
        NDList[] out = new NDList[blocks.size()];
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            NDList list = new NDList();
            List<NDArray> params = g.block().getParameterArrays();
            for (int i = 0; i < params.size(); i++) {
                NDArray p = params.get(i);
                if (!p.hasGradient()) {
                    throw new IllegalStateException(
                            "parameter " + g.block().getOrder().get(i) + " of layer "
                                    + displayName(g.block().getName()) + " has no gradient attached"
                                    + " (is it frozen?); FishLeg needs its gradient");
                }
                list.add(scope.own(p.getGradient()));
            }
            out[gi] = list;
        }
        return out;
    }

    /**
     * Fails when no backward pass has produced a gradient yet. DJL hands out a fresh zero array
     * for a parameter that has no gradient yet, so an all-zero gradient is probed: a real one
     * keeps a value written into it.
     */
    private void requireGradients(NDList[] grads, Scope scope) {
        for (NDList list : grads) {
            for (NDArray g : list) {
                if (Tensors.squaredNorm(g) != 0) {
                    return;
                }
            }
        }
        NDArray p = blocks.get(0).block().getParameterArrays().get(0);
        NDArray first = scope.own(p.getGradient());
        first.set(new ai.djl.ndarray.index.NDIndex("..."), 1);
        NDArray again = scope.own(p.getGradient());
        boolean exists = Tensors.squaredNorm(again) != 0;
        Tensors.zero(first);
        if (!exists) {
            throw new IllegalStateException(
                    "step() was called before any gradient was computed: run a backward pass"
                            + " (GradientCollector.backward(loss)) on the model's loss first");
        }
    }

    /**
     * One auxiliary update of λ (SPEC sections 7 and 14): draws a random auxiliary batch, samples
     * targets from the model ({@code fisher}) or uses the batch's own targets (empirical Fisher),
     * takes the direction u (the stored gradient, or Gaussian with {@code uSampling}), V = Q(λ)u,
     * an estimate F̂V of the Fisher times V ({@code estimator}; the seed's F̂ = g gᵀ from the
     * sampled-label gradient g by default) and the auxiliary loss ½(γ⟨V,V⟩ + ⟨V,F̂V⟩) − ⟨u,V⟩
     * (divided by ‖u‖² with {@code normalization}); if {@code train}, takes one Adam step on λ with
     * its analytic gradient, the vector-Jacobian product of λ ↦ Q(λ)u with D = F̂V + γV − u (with
     * {@code preconditionAux}: with Q(λ)D·‖u‖/‖V‖). The model's parameters, gradients and running
     * statistics are left as they were.
     *
     * @param train whether to update λ (false only evaluates)
     * @param fisher true: targets drawn from the model; false: the batch's targets
     * @return the loss and its terms
     */
    public AuxInfo updateAux(boolean train, boolean fisher) {
        return updateAux(train, fisher, null);
    }

    /**
     * {@link #updateAux(boolean, boolean)} that can hand its product V = Q(λ)u over to the step
     * that follows: when the update is known beforehand to leave λ exactly as it is (evaluation
     * only, or an auxiliary learning rate of 0) and u is the stored gradient, V is the natural
     * gradient that step needs, and {@code reuse} receives it per group. Otherwise (λ moves, or
     * the update turns out to be skipped) {@code reuse} stays empty and the step computes Q(λ)u.
     *
     * @param reuse null, or where V goes
     */
    private AuxInfo updateAux(boolean train, boolean fisher, ReuseTarget reuse) {
        boolean keep = reuse != null && hp.uSampling() == USampling.GRADIENT
                && (!train || currentAuxLr() == 0);
        try (Scope scope = Scope.open(manager)) {
            AuxEvaluation eval = evaluateAux(scope, fisher, train, keep);
            String bad = nonFiniteAux(eval);
            if (bad != null) {
                LOG.warn("auxiliary update skipped: non-finite {}; λ keeps its last value"
                        + " (skipped so far: {})", bad, stats.auxSkipped());
                stats.setLastAuxInfo(eval.info());
                return eval.info();
            }
            double lr = currentAuxLr();
            boolean steps = train && eval.gradients() != null;
            if (steps) {
                Map<NDArray, NDArray> masked = new IdentityHashMap<>();
                for (BlockState g : blocks) {
                    Map<String, NDArray> masks = g.block().getGradientMasks();
                    for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                        NDArray grad = eval.gradients().get(e.getValue());
                        if (grad == null) {
                            continue; // frozen: Adam leaves it and its state alone
                        }
                        NDArray mask = masks.get(e.getKey());
                        // the λ-gradients are this update's own temporaries: masked in place
                        masked.put(e.getValue(), mask == null ? grad : grad.muli(scope.use(mask)));
                    }
                }
                auxAdam.step(masked, lr);
                if (lr != 0) {
                    for (BlockState g : blocks) {
                        g.block().auxChanged();
                    }
                } // else λ − 0·step is λ itself: the cached factors and V stay valid
                stats.auxUpdated(eval.info().auxLoss());
            }
            if (eval.products() != null && (!steps || lr == 0)) { // λ is as V saw it
                reuse.products().clear();
                for (NDList v : eval.products()) {
                    reuse.products().add(Scope.keep(v, reuse.manager()));
                }
            }
            stats.setLastAuxInfo(eval.info());
            return eval.info();
        }
    }

    /** Where {@link #updateAux(boolean, boolean, ReuseTarget)} puts a reusable V. */
    private record ReuseTarget(NDManager manager, List<NDList> products) {}


    /** @return what is not finite in an auxiliary evaluation, or null */
    private String nonFiniteAux(AuxEvaluation eval) {
        if (!Double.isFinite(eval.info().auxLoss())) {
            return "auxiliary loss (" + eval.info().auxLoss() + ")";
        }
        if (eval.gradients() != null
                && !Tensors.allFinite(new ArrayList<>(eval.gradients().values()))) {
            for (BlockState g : blocks) {
                for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                    NDArray grad = eval.gradients().get(e.getValue());
                    if (grad != null && !Tensors.isFinite(grad)) {
                        return "λ-gradient of " + displayName(g.block().getName()) + "."
                                + e.getKey();
                    }
                }
            }
        }
        return null;
    }

    /**
     * The auxiliary loss on one fresh auxiliary batch and, if asked, its gradient with respect to
     * every trainable aux tensor (unmasked; with {@code preconditionAux} the preconditioned
     * direction instead). Changes nothing but the data source's, the likelihood's and (with
     * Gaussian u) the optimizer's random state; running statistics are restored.
     *
     * @param info the loss and its terms
     * @param gradients by live aux tensor (identity keys), attached to the scope; null if not asked
     *     for or if the update must be skipped
     * @param products copies of V = Q(λ)u per group, attached to the scope, when they were asked
     *     for; else null
     */
    record AuxEvaluation(AuxInfo info, Map<NDArray, NDArray> gradients, List<NDList> products) {}

    AuxEvaluation evaluateAux(Scope scope, boolean fisher, boolean withGradient) {
        return evaluateAux(scope, fisher, withGradient, false);
    }

    /** @param keepProducts also return copies of the products V = Q(λ)u */
    private AuxEvaluation evaluateAux(
            Scope scope, boolean fisher, boolean withGradient, boolean keepProducts) {
        try (ModelState.Saved state = modelState.save(scope); Resume paused = pauseRecording()) {
            return evaluateAuxPasses(scope, fisher, withGradient, keepProducts);
        }
    }

    /** {@link #evaluateAux}, whose forward passes may move the model's running statistics. */
    private AuxEvaluation evaluateAuxPasses(
            Scope scope, boolean fisher, boolean withGradient, boolean keepProducts) {
        LabeledBatch batch = auxData.next(scope.manager());
        if (batch == null || batch.size() == 0) {
            throw new IllegalStateException(
                    "the auxiliary data source returned "
                            + (batch == null ? "null" : "an empty batch")
                            + "; it must hand out a non-empty batch on every call");
        }
        LabeledBatch samples = fisher ? draw.draw(model, batch.data()) : batch;
        List<NDList> us = auxDirections(scope);
        double g2 = 0;
        for (NDList u : us) {
            for (NDArray x : u) {
                g2 += Tensors.squaredNorm(x);
            }
        }
        List<CurvatureBlock.Tape> tapes = new ArrayList<>();
        try {
            List<NDList> vs = new ArrayList<>();
            double lin = 0;
            double vv = 0;
            for (int gi = 0; gi < blocks.size(); gi++) {
                CurvatureBlock.Tape tape = auxTape(blocks.get(gi), us.get(gi), scope);
                tapes.add(tape);
                NDList v = tape.v();
                vs.add(v);
                lin += Tensors.dot(us.get(gi), v);
                vv += Tensors.dot(v, v);
            }
            List<NDList> products = keepProducts ? copies(vs, scope) : null;
            FisherEstimator.FisherEstimate fv =
                    fisherEstimator.estimate(auxPass(samples, scope), us, vs);
            double gamma = hp.damping();
            double reg = gamma * vv;
            double quad2 = fv.vFv();
            double aux = 0.5 * (reg + quad2) - lin;
            double check = fv.uFv() + gamma * lin - g2;
            double norm = 1;
            if (hp.normalization()) {
                if (g2 == 0) {
                    LOG.warn("auxiliary update skipped: the stored gradient u is zero, so the"
                            + " normalised auxiliary loss is undefined");
                    return new AuxEvaluation(
                            new AuxInfo(0, 0, lin, quad2, reg, g2), null, products);
                }
                norm = g2;
                aux /= g2;
                check /= g2;
            }
            AuxInfo info = new AuxInfo(aux, check, lin, quad2, reg, g2);
            if (!withGradient) {
                return new AuxEvaluation(info, null, products);
            }
            // Preconditioning rescales Q(λ)D by ‖u‖/‖V‖ so its size matches D's.
            double preconditionScale = vv > 0 ? Math.sqrt(g2 / vv) : 1;
            Map<NDArray, NDArray> gradients = new IdentityHashMap<>();
            for (int gi = 0; gi < blocks.size(); gi++) {
                CurvatureBlock block = blocks.get(gi).block();
                NDList v = vs.get(gi);
                NDList d = new NDList();
                for (int i = 0; i < v.size(); i++) {
                    // ∂aux/∂V = γV + F̂V − u  (÷ ‖u‖² with normalization)
                    NDArray di = v.get(i).mul(gamma) // one new array, the rest in place
                            .addi(fv.product().get(gi).get(i))
                            .subi(us.get(gi).get(i));
                    d.add(norm == 1 ? di : di.divi(norm));
                }
                if (hp.preconditionAux()) {
                    d = block.qv(d);
                    for (NDArray x : d) {
                        x.muli(preconditionScale);
                    }
                }
                for (Map.Entry<String, NDArray> e : tapes.get(gi).vjp(d).entrySet()) {
                    gradients.put(
                            block.getAuxParameters().get(e.getKey()), scope.own(e.getValue()));
                }
            }
            return new AuxEvaluation(info, gradients, products);
        } finally {
            for (CurvatureBlock.Tape t : tapes) {
                t.close();
            }
        }
    }

    private static List<NDList> copies(List<NDList> vs, Scope scope) {
        List<NDList> out = new ArrayList<>(vs.size());
        for (NDList v : vs) {
            NDList c = new NDList(v.size());
            for (NDArray x : v) {
                c.add(scope.own(x.duplicate()));
            }
            out.add(c);
        }
        return out;
    }

    /**
     * The directions u of one auxiliary update: the stored gradients, or fresh N(0, I) draws from
     * the optimizer's generator with {@link USampling#GAUSSIAN} (SPEC 14.1).
     */
    private List<NDList> auxDirections(Scope scope) {
        List<NDList> us = new ArrayList<>(blocks.size());
        for (BlockState g : blocks) {
            if (hp.uSampling() == USampling.GRADIENT) {
                us.add(scope.use(g.u()));
                continue;
            }
            NDList u = new NDList(g.u().size());
            for (NDArray like : g.u()) {
                double[] z = rng.gaussians(Math.toIntExact(like.size()));
                u.add(Tensors.create(scope.manager(), z, like.getShape(), like.getDataType()));
            }
            us.add(u);
        }
        return us;
    }

    /** What the estimator may do with the model in one auxiliary update. */
    private FisherEstimator.Pass auxPass(LabeledBatch samples, Scope scope) {
        return new FisherEstimator.Pass() {
            @Override
            public Scope scope() {
                return scope;
            }

            @Override
            public List<NDList> sampledGradients() {
                return FishLeg.this.sampledGradients(samples, scope);
            }

            @Override
            public List<List<NDArray>> parameters() {
                List<List<NDArray>> out = new ArrayList<>(blocks.size());
                for (BlockState g : blocks) {
                    out.add(g.block().getParameterArrays());
                }
                return out;
            }
        };
    }

    /** The learning rate of the next auxiliary Adam step (linear decay when numSteps > 0). */
    public double currentAuxLr() {
        if (hp.numSteps() <= 0) {
            return hp.auxLr();
        }
        double left = (double) (hp.numSteps() - stats.auxUpdates()) / hp.numSteps();
        return hp.auxLr() * Math.max(0, left);
    }

    /**
     * The gradient of the nll on {@code samples} with respect to every managed parameter, computed
     * without disturbing the gradients the model already holds (they are saved and restored), so
     * unmanaged parameters see no leaked gradients.
     */
    private List<NDList> sampledGradients(LabeledBatch samples, Scope scope) {
        List<NDList> out = new ArrayList<>();
        try (ModelGradients.Saved saved = gradients.save(scope)) {
            gradients.backward(nll, samples, scope);
            for (BlockState g : blocks) {
                out.add(ModelGradients.copies(g.block().getParameterArrays(), scope));
            }
        }
        return out;
    }

    /**
     * Sets the initial Q (SPEC section 4). Without data (or with {@code warmup = 0}) every block
     * is scaled so that Q0 = s·I (each call multiplies, as in the reference). With data and a
     * loss, the squared gradients of {@code ceil(warmup / batch size)} batches are averaged into
     * g², and every layer block starts from diag(Q0) = s²/(g² + γ) (Kronecker blocks through A,
     * or through L and R under batchSpeedup; normalisation blocks through their diagonal).
     * Running statistics of the model are left as they were.
     *
     * @param data warm-up batches, or null
     * @param loss the loss whose gradients are squared, or null
     * @param scale the scale s
     */
    public void warmupAux(BatchSource data, NllFunction loss, double scale) {
        if (data == null || loss == null || hp.warmup() == 0) {
            for (BlockState g : blocks) {
                if (g.block().getLayer() != null) { // the likelihood block was scaled at creation
                    g.block().warmup(null, scale);
                }
            }
            return;
        }
        try (Scope scope = Scope.open(manager); ModelState.Saved state = modelState.save(scope);
                Resume paused = pauseRecording(); ModelGradients.Saved saved = gradients.save(scope)) {
            List<NDList> sums = new ArrayList<>();
            for (BlockState g : blocks) {
                NDList s = new NDList();
                for (NDArray p : g.block().getParameterArrays()) {
                    s.add(scope.own(p.zerosLike()));
                }
                sums.add(s);
            }
            long consumed = 0;
            int batches = 0;
            while (consumed < hp.warmup()) {
                try (Scope batchScope = Scope.open(scope.manager())) {
                    LabeledBatch batch = data.next(batchScope.manager());
                    if (batch == null || batch.size() == 0) {
                        throw new IllegalStateException(
                                "the warm-up data source returned no batch; it must hand out"
                                        + " non-empty batches until warmup examples are seen");
                    }
                    gradients.backward(loss, batch, batchScope);
                    for (int gi = 0; gi < blocks.size(); gi++) {
                        List<NDArray> params = blocks.get(gi).block().getParameterArrays();
                        for (int i = 0; i < params.size(); i++) {
                            NDArray g = ModelGradients.of(params.get(i), batchScope);
                            sums.get(gi).get(i).addi(g.square());
                        }
                    }
                    consumed += batch.size();
                    batches++;
                }
            }
            for (int gi = 0; gi < blocks.size(); gi++) {
                BlockState g = blocks.get(gi);
                if (g.block().getLayer() == null) {
                    continue; // likelihood block: Q0 = s·I (SPEC 4.1 [FIX])
                }
                NDList d = new NDList();
                for (NDArray sum : sums.get(gi)) {
                    // d = s / sqrt(mean g² + γ), so that diag(Q0) = d² = s²/(g² + γ)
                    NDArray root = sum.div(batches).add(hp.damping()).sqrt();
                    d.add(NDArrays.div(scale, root));
                }
                g.block().warmup(d, scale);
            }
        }
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
    public List<Double> pretrainFish(
            BatchSource data,
            NllFunction loss,
            int iterations,
            boolean difference,
            boolean verbose,
            BatchSource testData,
            int reportEvery,
            boolean fisher) {
        if (iterations < 0 || reportEvery <= 0) {
            throw new IllegalArgumentException(
                    "iterations must be >= 0 and reportEvery > 0, got " + iterations + " and "
                            + reportEvery);
        }
        List<Double> out = new ArrayList<>(iterations);
        double checkSum = 0;
        for (int it = 0; it < iterations; it++) {
            storeBatchGradient(data, loss, difference);
            AuxInfo info = updateAux(true, fisher);
            double lin = hp.normalization() && info.g2() > 0
                    ? info.linearTerm() / info.g2() : info.linearTerm();
            out.add(info.auxLoss() + 0.5 * lin);
            checkSum += info.check();
            if (verbose && it % reportEvery == 0) {
                String test = "";
                if (testData != null) {
                    double testCheck = 0;
                    for (int t = 0; t < 100; t++) {
                        storeBatchGradient(testData, loss, difference);
                        testCheck += updateAux(false, fisher).check();
                    }
                    test = String.format(", test check %.6g", testCheck / 100);
                }
                LOG.info(
                        "pretrainFish {}: train check {}{}; last {}",
                        it, checkSum / (it == 0 ? 1 : reportEvery), test, info);
                checkSum = 0;
            }
        }
        return out;
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

    /** u ← ∇loss(batch) [− ∇loss(batch')], leaving the model's gradients as they were. */
    private void storeBatchGradient(BatchSource data, NllFunction loss, boolean difference) {
        for (BlockState g : blocks) {
            g.forgetFactors();
        }
        try (Scope scope = Scope.open(manager); ModelState.Saved state = modelState.save(scope);
                Resume paused = pauseRecording(); ModelGradients.Saved saved = gradients.save(scope)) {
            for (int pass = 0; pass < (difference ? 2 : 1); pass++) {
                gradients.backward(loss, data.next(scope.manager()), scope);
                for (BlockState g : blocks) {
                    List<NDArray> params = g.block().getParameterArrays();
                    for (int i = 0; i < params.size(); i++) {
                        NDArray grad = ModelGradients.of(params.get(i), scope);
                        if (pass == 0) {
                            Tensors.assign(g.u().get(i), grad);
                        } else {
                            g.u().get(i).subi(grad);
                        }
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // checkpoints

    /**
     * Saves the complete state of this optimizer and its model (see {@link Checkpoint} for what and
     * how), atomically.
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

    // ---------------------------------------------------------------------------------------
    // accessors

    /** @return the curvature blocks, in parameter-group order */
    public List<CurvatureBlock> getBlocks() {
        List<CurvatureBlock> out = new ArrayList<>();
        for (BlockState g : blocks) {
            out.add(g.block());
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * @param name a layer's dotted name (or {@value #LIKELIHOOD_BLOCK})
     * @return its curvature block
     * @throws IllegalArgumentException if FishLeg does not manage it
     */
    public CurvatureBlock getBlock(String name) {
        for (BlockState g : blocks) {
            if (g.block().getName().equals(name)) {
                return g.block();
            }
        }
        throw new IllegalArgumentException(
                "FishLeg manages no layer named '" + name + "'; managed: " + managedNames());
    }

    /** @return the dotted names of the managed layers (and the likelihood block) */
    public List<String> managedNames() {
        List<String> out = new ArrayList<>();
        for (BlockState g : blocks) {
            out.add(g.block().getName());
        }
        return out;
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

    /** @return the result of the last auxiliary update, or null */
    public AuxInfo getLastAuxInfo() {
        return stats.lastAuxInfo();
    }

    /**
     * @param name a managed layer's dotted name
     * @return its momentum buffers (live), in block order
     */
    public NDList getMomentum(String name) {
        return parameterStep.momentum(blocks.indexOf(group(name)));
    }

    /**
     * @param name a managed layer's dotted name
     * @return its stored gradient u (live), in block order
     */
    public NDList getStoredGradient(String name) {
        return group(name).u();
    }

    private BlockState group(String name) {
        for (BlockState g : blocks) {
            if (g.block().getName().equals(name)) {
                return g;
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
        for (FishLinear fl : recordingBlocks(false)) {
            fl.setRecording(false);
            fl.clearRecord();
        }
        manager.close();
    }

    // ---------------------------------------------------------------------------------------

    /**
     * Builds a {@link FishLeg}: the reference constructor's keyword arguments, in camelCase, with
     * the seed's defaults.
     */
    public static final class Builder {
        private final Block model;
        private final DrawFunction draw;
        private final NllFunction nll;
        private final BatchSource auxData;
        private FishLikelihood likelihood;
        private double fishLr = Hyperparameters.DEFAULTS.fishLr();
        private double damping = Hyperparameters.DEFAULTS.damping();
        private double weightDecay = Hyperparameters.DEFAULTS.weightDecay();
        private double beta = Hyperparameters.DEFAULTS.beta();
        private int updateAuxEvery = Hyperparameters.DEFAULTS.updateAuxEvery();
        private double auxLr = Hyperparameters.DEFAULTS.auxLr();
        private double auxBeta1 = Hyperparameters.DEFAULTS.auxBeta1();
        private double auxBeta2 = Hyperparameters.DEFAULTS.auxBeta2();
        private double auxEps = Hyperparameters.DEFAULTS.auxEps();
        private long numSteps;
        private boolean batchSpeedup;
        private boolean full = true;
        private boolean normalization;
        private boolean fineTune;
        private List<String> moduleNames = List.of();
        private List<String> skipNames = List.of();
        private boolean strictModuleNames;
        private Initialization initialization = Initialization.UNIFORM;
        private double scale = 1.0;
        private int warmup;
        private BatchSource warmupData;
        private NllFunction warmupLoss;
        private Device device;
        private Object config;
        private long seed;
        private boolean verbose;
        private double klClip;
        private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.THROW;
        private Estimator estimator = Hyperparameters.DEFAULTS.estimator();
        private double antitheticEps = Hyperparameters.DEFAULTS.antitheticEps();
        private boolean preconditionAux = Hyperparameters.DEFAULTS.preconditionAux();
        private USampling uSampling = Hyperparameters.DEFAULTS.uSampling();

        private Builder(Block model, DrawFunction draw, NllFunction nll, BatchSource auxData) {
            this.model = Objects.requireNonNull(model, "model");
            this.draw = Objects.requireNonNull(draw, "draw");
            this.nll = Objects.requireNonNull(nll, "nll");
            this.auxData = Objects.requireNonNull(auxData, "auxData");
        }

        /**
         * @param likelihood a likelihood; only used when it has learnable parameters, which then
         *     get their own curvature block
         * @return this
         */
        public Builder likelihood(FishLikelihood likelihood) {
            this.likelihood = likelihood;
            return this;
        }

        /** @param v learning rate η of the parameters (default 0.05) @return this */
        public Builder fishLr(double v) {
            this.fishLr = v;
            return this;
        }

        /** @param v damping γ of the Fisher (default 0.5) @return this */
        public Builder damping(double v) {
            this.damping = v;
            return this;
        }

        /** @param v weight decay (default 1e-5; see {@link FishLeg#step()}) @return this */
        public Builder weightDecay(double v) {
            this.weightDecay = v;
            return this;
        }

        /** @param v momentum coefficient of the natural gradient (default 0.9) @return this */
        public Builder beta(double v) {
            this.beta = v;
            return this;
        }

        /**
         * @param v k > 0: an auxiliary update every k steps (at steps 0, k, 2k, ...); k < 0: |k|
         *     auxiliary updates every step; 0: never, Q stays at its warm-up value (default 10)
         * @return this
         */
        public Builder updateAuxEvery(int v) {
            this.updateAuxEvery = v;
            return this;
        }

        /** @param v learning rate of the auxiliary Adam (default 1e-4) @return this */
        public Builder auxLr(double v) {
            this.auxLr = v;
            return this;
        }

        /**
         * @param beta1 first-moment decay of the auxiliary Adam (default 0.9)
         * @param beta2 second-moment decay (default 0.999)
         * @return this
         */
        public Builder auxBetas(double beta1, double beta2) {
            this.auxBeta1 = beta1;
            this.auxBeta2 = beta2;
            return this;
        }

        /** @param v epsilon of the auxiliary Adam (default 1e-8) @return this */
        public Builder auxEps(double v) {
            this.auxEps = v;
            return this;
        }

        /**
         * @param v if positive, the auxiliary learning rate decays linearly from auxLr to 0 over
         *     this many auxiliary updates (default: no decay)
         * @return this
         */
        public Builder numSteps(long v) {
            this.numSteps = v;
            return this;
        }

        /**
         * @param v use the Qg form of linear layers (SPEC 9): Q = RᵀR ⊗ LLᵀ without the
         *     rescaling A, warmed up through L and R (Q0 = s·I, or the nearest Kronecker
         *     diagonal); other layers keep their usual form (default false). For layers built
         *     as {@link RecordingLinear} Q is applied to the recorded inputs and output gradients
         *     ({@link FishLinear#qg}, the reference's product from saved activations), and the
         *     auxiliary update differentiates that product, whenever that is cheaper than the
         *     product with the formed gradient; otherwise Q is applied to the gradient (same
         *     numbers, more arithmetic).
         * @return this
         */
        public Builder batchSpeedup(boolean v) {
            this.batchSpeedup = v;
            return this;
        }

        /**
         * @param v learn the diagonal rescaling A of Kronecker blocks (default true); false keeps
         *     A at its warm-up value
         * @return this
         */
        public Builder full(boolean v) {
            this.full = v;
            return this;
        }

        /**
         * @param v divide the auxiliary loss by ‖u‖², so curvature is learned even when
         *     gradients are small (default false)
         * @return this
         */
        public Builder normalization(boolean v) {
            this.normalization = v;
            return this;
        }

        /**
         * @param v weight decay pulls the parameters towards their values at construction θ0,
         *     scaled by η (default false). Q keeps learning unless {@code updateAuxEvery(0)}.
         * @return this
         */
        public Builder fineTune(boolean v) {
            this.fineTune = v;
            return this;
        }

        /**
         * @param names layers to manage: dotted names, or {@code re:} regexes matched against a
         *     prefix of the name; a selected container stands for the layers inside it; empty (or
         *     a first entry {@code "re:*"}) manages every supported layer (default)
         * @return this
         */
        public Builder moduleNames(List<String> names) {
            this.moduleNames = List.copyOf(names);
            return this;
        }

        /** @param names see {@link #moduleNames(List)} @return this */
        public Builder moduleNames(String... names) {
            return moduleNames(List.of(names));
        }

        /**
         * @param names layers whose dotted name contains one of these substrings are not managed
         * @return this
         */
        public Builder skipNames(List<String> names) {
            this.skipNames = List.copyOf(names);
            return this;
        }

        /** @param names see {@link #skipNames(List)} @return this */
        public Builder skipNames(String... names) {
            return skipNames(List.of(names));
        }

        /**
         * @param v if true, every moduleNames entry must select a layer, else construction fails
         *     naming the entry (the reference's {@code params_strict}; default false)
         * @return this
         */
        public Builder strictModuleNames(boolean v) {
            this.strictModuleNames = v;
            return this;
        }

        /**
         * @param v re-initialisation of the weights of managed linear layers (default UNIFORM:
         *     keep DJL's or the user's values; NORMAL: N(0, 1/in), biases kept; ZERO: weights
         *     and biases 0). Other layer types are never re-initialised.
         * @return this
         */
        public Builder initialization(Initialization v) {
            this.initialization = v;
            return this;
        }

        /** @param v {@code "uniform"}, {@code "normal"} or {@code "zero"} @return this */
        public Builder initialization(String v) {
            return initialization(Initialization.parse(v));
        }

        /**
         * @param v initial scale s of Q: Q0 = s·I with warmup 0 (1/damping is the reference's
         *     suggestion there), diag(Q0) = s²/(g² + γ) with warmup > 0 (suggested 1) (default 1)
         * @return this
         */
        public Builder scale(double v) {
            this.scale = v;
            return this;
        }

        /**
         * @param v number of examples whose squared gradients set the diagonal of Q0; 0 uses Q0 =
         *     s·I (default 0). Needs {@link #warmupData} and {@link #warmupLoss}.
         * @return this
         */
        public Builder warmup(int v) {
            this.warmup = v;
            return this;
        }

        /** @param v batches for the warm-up @return this */
        public Builder warmupData(BatchSource v) {
            this.warmupData = v;
            return this;
        }

        /** @param v loss whose squared gradients the warm-up averages @return this */
        public Builder warmupLoss(NllFunction v) {
            this.warmupLoss = v;
            return this;
        }

        /**
         * @param v device of the optimizer's state (default: that of the model's parameters)
         * @return this
         */
        public Builder device(Device v) {
            this.device = v;
            return this;
        }

        /**
         * Exists for parity with the reference signature only: there {@code config} builds the
         * replacement of a HuggingFace BERT attention block, which FishLeg4J does not provide.
         * Leave it unset; a non-null value is rejected at {@link #build()}.
         *
         * @param v must be null
         * @return this
         */
        public Builder config(Object v) {
            this.config = v;
            return this;
        }

        /**
         * @param v seed of the optimizer's own random generator (used by the normal
         *     initialisation; default 0)
         * @return this
         */
        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        /** @param v log each managed layer at INFO level (default false) @return this */
        public Builder verbose(boolean v) {
            this.verbose = v;
            return this;
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
        public Builder klClip(double v) {
            this.klClip = v;
            return this;
        }

        /**
         * @param v what a step does on a non-finite gradient, natural gradient or new parameter:
         *     THROW (default) or SKIP; either way nothing non-finite is written
         * @return this
         */
        public Builder nonFinitePolicy(NonFinitePolicy v) {
            this.nonFinitePolicy = v;
            return this;
        }

        /**
         * @param v how auxiliary updates estimate the Fisher-vector product: {@link
         *     Estimator#RANK1} (the seed, default) or {@link Estimator#ANTITHETIC} (unbiased, two
         *     extra forward/backward passes)
         * @return this
         */
        public Builder estimator(Estimator v) {
            this.estimator = v;
            return this;
        }

        /** @param v {@code "rank1"} or {@code "antithetic"} @return this */
        public Builder estimator(String v) {
            return estimator(Estimator.parse(v));
        }

        /**
         * @param v length ε of the parameter perturbation of the {@link Estimator#ANTITHETIC}
         *     estimator, > 0 (default 1e-4; in float32 much smaller values lose precision)
         * @return this
         */
        public Builder antitheticEps(double v) {
            this.antitheticEps = v;
            return this;
        }

        /**
         * @param v precondition the auxiliary gradient: pull back Q(λ)D (rescaled by ‖u‖/‖V‖)
         *     instead of D = (F̂ + γI)V − u, a natural-gradient-like step for λ (the {@code main}
         *     reference's {@code precondition_aux}; default false)
         * @return this
         */
        public Builder preconditionAux(boolean v) {
            this.preconditionAux = v;
            return this;
        }

        /**
         * @param v the direction u that Q is trained along: {@link USampling#GRADIENT} (the stored
         *     gradient, default) or {@link USampling#GAUSSIAN} (fresh N(0, I) per update, learns
         *     Q in every direction)
         * @return this
         */
        public Builder uSampling(USampling v) {
            this.uSampling = v;
            return this;
        }

        /** @param v {@code "gradient"} or {@code "gaussian"} @return this */
        public Builder uSampling(String v) {
            return uSampling(USampling.parse(v));
        }

        Hyperparameters hyperparameters() {
            return new Hyperparameters(
                    fishLr, damping, weightDecay, beta, updateAuxEvery, auxLr, auxBeta1, auxBeta2,
                    auxEps, numSteps, batchSpeedup, full, normalization, fineTune, moduleNames,
                    skipNames, strictModuleNames, initialization, scale, warmup, seed, verbose,
                    klClip, nonFinitePolicy, estimator, antitheticEps, preconditionAux, uSampling);
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
