package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.layers.LayerRecords;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.optim.Checkpoint;
import ai.fishleg.optim.GuardedPass;
import ai.fishleg.optim.NonFiniteException;
import ai.fishleg.optim.NonFinitePolicy;
import ai.fishleg.optim.ParameterStep;
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
 * K-FAC (Martens and Grosse 2015; convolutions: Grosse and Martens 2016): preconditions the
 * gradient of each fully connected and 2-d convolution layer by the inverse of a damped Kronecker
 * factorisation of its block of the Fisher matrix, and moves the parameters with momentum.
 *
 * <p>Each step (from the gradients left by the user's backward pass):
 *
 * <ol>
 *   <li>every {@code covEvery} steps (at steps 0, covEvery, ...): one batch from {@code
 *       curvatureData}, labels drawn from the model ({@code draw}; the true Fisher), a backward
 *       pass of {@code nll} on them, and the factors A = E[āāᵀ] and G = E[ggᵀ] of every K-FAC
 *       layer updated from that pass's layer inputs and output gradients as exponential moving
 *       averages with weight {@code statDecay} on the old value (see {@link
 *       KroneckerFactoredBlock} for the estimates and their scaling). The model's gradients and
 *       running statistics are left as the user's pass left them;
 *   <li>every {@code invEvery} steps: the inverses (A + π√γ I)⁻¹ and (G + √γ/π I)⁻¹ (γ =
 *       damping, π the trace ratio);
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
 * step with that step's factors (the first statistics update takes the estimate itself; later ones
 * average). Until a layer's factors are next refreshed its inverses stay as they are.
 *
 * <p>Which layers: the layers FishLeg would manage (same discovery and names, {@link
 * ManagedLayers}); of these, {@link ai.fishleg.layers.RecordingLinear} layers get a {@link
 * LinearBlock} and {@link ai.fishleg.layers.RecordingConv2d} layers (groups = 1) a {@link
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
public final class Kfac implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    private final Block model;
    private final DrawFunction draw;
    private final NllFunction nll;
    private final BatchSource curvatureData;
    private final Settings settings;
    private final NDManager manager;
    private final List<Group> groups = new ArrayList<>();
    private final List<NDArray> trainable = new ArrayList<>();
    private final Map<String, Rng> rngs = new LinkedHashMap<>();
    /** Momentum, decoupled weight decay and klClip: the parameter update FishLeg uses too. */
    private final ParameterStep parameterStep;

    private double lr;
    private long stepCount;
    private long skippedSteps;
    /** K-FAC layers whose last natural gradient came from the activation form (for tests). */
    int lastActivationFormBlocks;

    /**
     * The settings of a run.
     *
     * @param lr learning rate η
     * @param damping γ
     * @param statDecay weight of the old factors in the moving averages
     * @param covEvery a statistics update every this many steps
     * @param invEvery an inversion every this many steps
     * @param klClip κ of the trust region (0: off)
     * @param momentum β
     * @param weightDecay weight decay per step (an L2 term in the HEAVY_BALL form, decoupled in
     *     the AVERAGE form)
     * @param momentumForm how the momentum accumulates the natural gradient
     * @param nonFinitePolicy what a step does on a non-finite value
     * @param moduleNames layers to consider (empty: all), as for FishLeg
     * @param skipNames layers to leave to momentum SGD, as for FishLeg
     */
    public record Settings(
            double lr,
            double damping,
            double statDecay,
            int covEvery,
            int invEvery,
            double klClip,
            double momentum,
            double weightDecay,
            ParameterStep.Momentum momentumForm,
            NonFinitePolicy nonFinitePolicy,
            List<String> moduleNames,
            List<String> skipNames) {}

    /**
     * The parameters stepped together: one K-FAC layer, or parameters taking momentum SGD. Its
     * index in {@code groups} is its group in {@link #parameterStep}.
     */
    static final class Group {
        final String name;
        /** Null for momentum SGD. */
        final KroneckerFactoredBlock block;
        final List<NDArray> params;
        final List<String> paramNames;

        Group(String name, KroneckerFactoredBlock block, List<NDArray> params,
                List<String> paramNames) {
            this.name = name;
            this.block = block;
            this.params = params;
            this.paramNames = paramNames;
        }
    }

    private Kfac(Builder b) {
        this.model = b.model;
        this.draw = b.draw;
        this.nll = b.nll;
        this.curvatureData = b.curvatureData;
        this.settings = b.settings();
        this.lr = settings.lr();
        NDManager parent = firstParameterArray(model).getManager();
        this.manager = parent.newSubManager();
        this.parameterStep = new ParameterStep(new ParameterStep.Settings(
                settings.momentum(), settings.weightDecay(), false, settings.klClip(),
                settings.momentumForm()), manager);
        boolean ok = false;
        try {
            buildGroups();
            for (Group g : groups) {
                parameterStep.addGroup(() -> g.params, false);
                if (g.block != null) {
                    LayerRecords.setRecording(g.block.getLayer(), true);
                }
            }
            addRng("curvatureData", curvatureData);
            addRng("draw", draw);
            ok = true;
        } finally {
            if (!ok) {
                for (Group g : groups) {
                    if (g.block != null) {
                        LayerRecords.setRecording(g.block.getLayer(), false);
                    }
                }
                manager.close();
            }
        }
    }

    /**
     * Starts building an optimizer.
     *
     * @param model the network, initialised; its Linear and Conv2d layers should be {@link
     *     ai.fishleg.layers.RecordingLinear} / {@link ai.fishleg.layers.RecordingConv2d}
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
    // construction

    private static NDArray firstParameterArray(Block model) {
        Objects.requireNonNull(model, "model");
        NDArray first = null;
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (!p.getValue().isInitialized()) {
                throw new IllegalArgumentException(
                        "parameter " + p.getKey() + " of the model is not initialised: call"
                                + " model.initialize(manager, dataType, inputShape) before building"
                                + " Kfac");
            }
            if (first == null) {
                first = p.getValue().getArray();
            }
        }
        if (first == null) {
            throw new IllegalArgumentException(
                    "the model has no parameters, so there is nothing for Kfac to optimise");
        }
        return first;
    }

    private void buildGroups() {
        Set<NDArray> assigned = Collections.newSetFromMap(new IdentityHashMap<>());
        for (NamedLayer nl : ManagedLayers.select(
                model, settings.moduleNames(), false, settings.skipNames())) {
            String display = LayerSelection.displayName(nl.layerName());
            Block layer = nl.layer();
            List<NDArray> params = new ArrayList<>();
            List<String> names = new ArrayList<>();
            boolean allTrainable = true;
            for (Pair<String, Parameter> p : layer.getDirectParameters()) {
                if (p.getValue().requiresGradient()) {
                    params.add(p.getValue().getArray());
                    names.add(p.getKey());
                } else {
                    allTrainable = false;
                }
            }
            String why = allTrainable ? ineligible(layer) : "some of its parameters are frozen";
            KroneckerFactoredBlock block = null;
            if (why == null) {
                block = layer instanceof Conv2d c ? new Conv2dBlock(nl.layerName(), c, manager)
                        : new LinearBlock(nl.layerName(), (Linear) layer, manager);
                params = block.getParameterArrays();
                names = block.getParameterNames();
                LOG.debug("K-FAC preconditions {} with {}", display, block);
            } else {
                // a plain Linear or Conv2d is most likely an oversight: say so louder
                String msg = "K-FAC gives {} ({}) a momentum-SGD step: {}";
                if (layer instanceof Linear || layer instanceof Conv2d) {
                    LOG.warn(msg, display, layer.getClass().getSimpleName(), why);
                } else {
                    LOG.info(msg, display, layer.getClass().getSimpleName(), why);
                }
            }
            assigned.addAll(params);
            groups.add(new Group(nl.layerName(), block, params, names));
        }
        if (groups.stream().noneMatch(g -> g.block != null)) {
            throw new IllegalArgumentException(
                    "Kfac found no layer to precondition: it needs RecordingLinear or"
                            + " RecordingConv2d layers (build them with RecordingLinear.builder()"
                            + " / RecordingConv2d.builder() where the model uses Linear / Conv2d);"
                            + " layers considered: " + groups.stream().map(g -> g.name).toList()
                            + " (moduleNames " + settings.moduleNames() + ", skipNames "
                            + settings.skipNames() + ")");
        }
        List<String> unmanaged = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            Parameter param = p.getValue();
            if (!param.requiresGradient()) {
                continue;
            }
            trainable.add(param.getArray());
            if (!assigned.contains(param.getArray())) {
                groups.add(new Group(p.getKey(), null, List.of(param.getArray()),
                        List.of(p.getKey())));
                unmanaged.add(p.getKey());
            }
        }
        if (!unmanaged.isEmpty()) {
            LOG.info("K-FAC gives these parameters of layers it has no block for a momentum-SGD"
                    + " step: {}", unmanaged);
        }
    }

    /** @return why a selected layer gets no K-FAC block, or null when it gets one */
    private static String ineligible(Block layer) {
        if (layer instanceof Linear) {
            return LayerRecords.canRecord(layer) ? null
                    : "it is a plain Linear; build it with RecordingLinear.builder() so that K-FAC"
                            + " sees its inputs and output gradients";
        }
        if (layer instanceof Conv2d c) {
            if (!LayerRecords.canRecord(layer)) {
                return "it is a plain Conv2d; build it with RecordingConv2d.builder() so that"
                        + " K-FAC sees its inputs and output gradients";
            }
            return c.getGroups() == 1 ? null : "grouped convolutions have no K-FAC block";
        }
        return "K-FAC has no Kronecker-factored block for this layer type";
    }

    private void addRng(String name, Object owner) {
        Rng r = owner instanceof Rng ? (Rng) owner
                : owner instanceof RngOwner ? ((RngOwner) owner).getRng() : null;
        if (r != null && rngs.values().stream().noneMatch(x -> x == r)) {
            rngs.put(name, r);
        }
    }

    // ---------------------------------------------------------------------------------------
    // the optimizer

    /**
     * Sets the gradient of every trainable parameter to zero and forgets the recorded passes. DJL
     * accumulates gradients, so call this before each training backward pass.
     */
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            GuardedPass.zeroGradients(trainable, scope);
        }
        clearRecords();
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
    public void step() {
        try (Scope scope = Scope.open(manager)) {
            NDList[] grads = currentGradients(scope);
            KroneckerFactoredBlock.Rows[] trainingRows = trainingRows(grads, scope);
            clearRecords();
            boolean cov = stepCount % settings.covEvery() == 0;
            boolean inv = stepCount % settings.invEvery() == 0;
            NDList[] factors = new NDList[groups.size()];
            KroneckerFactoredBlock.Inverses[] inverses =
                    new KroneckerFactoredBlock.Inverses[groups.size()];
            if (cov) {
                curvatureStatistics(factors, scope);
            }
            NDList[] naturals = new NDList[groups.size()];
            lastActivationFormBlocks = 0;
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
                    inverses[gi] = block.inverses(f, settings.damping(), scope);
                }
                KroneckerFactoredBlock.Inverses use =
                        inverses[gi] != null ? inverses[gi] : block.currentInverses();
                if (trainingRows[gi] != null) {
                    naturals[gi] = block.precondition(use, trainingRows[gi], scope);
                    lastActivationFormBlocks++;
                } else {
                    naturals[gi] = block.precondition(use, grads[gi], scope);
                }
            }
            ParameterStep.Proposal proposal = parameterStep.propose(naturals, grads, lr, scope);
            if (!allFinite(factors, inverses, proposal)
                    && rejectsNonFinite(grads, factors, inverses, naturals, proposal)) {
                return;
            }
            for (int gi = 0; gi < groups.size(); gi++) {
                if (groups.get(gi).block != null) {
                    groups.get(gi).block.commit(factors[gi], inverses[gi]);
                }
            }
            parameterStep.commit(proposal);
        }
        stepCount++;
    }

    /**
     * One pass with labels drawn from the model on a batch of {@code curvatureData}, and the next
     * factors of every K-FAC layer from its recorded rows, into {@code factors}.
     */
    private void curvatureStatistics(NDList[] factors, Scope scope) {
        LabeledBatch batch = curvatureData.next(scope.manager());
        if (batch == null || batch.size() == 0) {
            throw new IllegalStateException(
                    "the curvature data source returned "
                            + (batch == null ? "null" : "an empty batch")
                            + "; it must hand out a non-empty batch on every call");
        }
        try (GuardedPass pass = GuardedPass.open(model, trainable, scope)) {
            LabeledBatch samples = draw.draw(model, batch.data());
            clearRecords(); // the draw's forward pass is not part of the statistics
            pass.backward(nll, samples);
            for (int gi = 0; gi < groups.size(); gi++) {
                KroneckerFactoredBlock block = groups.get(gi).block;
                if (block == null) {
                    continue;
                }
                KroneckerFactoredBlock.Rows rows =
                        block.rows(LayerRecords.passes(block.getLayer()), scope);
                if (rows == null) {
                    throw new IllegalStateException(
                            "layer " + LayerSelection.displayName(block.getName()) + " recorded"
                                    + " no training-mode pass during K-FAC's statistics pass; is"
                                    + " it part of the model's forward pass?");
                }
                factors[gi] = block.nextFactors(rows, samples.size(), settings.statDecay(),
                        scope);
            }
        } finally {
            clearRecords();
        }
    }

    /**
     * The rows of the training pass's gradient for every K-FAC layer where the activation form
     * is cheaper, checked against the gradients (one read-back for all layers); null elsewhere,
     * and wherever the record does not reproduce the gradient (gradients cleared without {@link
     * #zeroGrad()}, several passes of which some were cleared, ...).
     */
    private KroneckerFactoredBlock.Rows[] trainingRows(NDList[] grads, Scope scope) {
        KroneckerFactoredBlock.Rows[] out = new KroneckerFactoredBlock.Rows[groups.size()];
        List<Integer> found = new ArrayList<>();
        NDList mismatches = new NDList();
        for (int gi = 0; gi < groups.size(); gi++) {
            KroneckerFactoredBlock block = groups.get(gi).block;
            if (block == null) {
                continue;
            }
            List<LayerRecords.Pass> passes = LayerRecords.passes(block.getLayer());
            if (passes.isEmpty() || !block.activationFormPaysOff(block.rowCount(passes))) {
                continue;
            }
            KroneckerFactoredBlock.Rows rows = block.rows(passes, scope);
            if (rows != null) {
                out[gi] = rows;
                found.add(gi);
                mismatches.add(block.mismatch(rows, grads[gi], scope));
            }
        }
        if (found.isEmpty()) {
            return out;
        }
        double[] m = NDArrays.concat(mismatches).toType(DataType.FLOAT64, false).toDoubleArray();
        for (int j = 0; j < found.size(); j++) {
            int gi = found.get(j);
            double tolerance = grads[gi].get(0).getDataType() == DataType.FLOAT64 ? 1e-9 : 1e-3;
            if (!(m[2 * j] <= tolerance * tolerance * m[2 * j + 1])) {
                LOG.debug("layer {}: the recorded pass does not reproduce the gradient; the weight"
                        + " form is used", LayerSelection.displayName(groups.get(gi).name));
                out[gi] = null;
            }
        }
        return out;
    }

    private void clearRecords() {
        for (Group g : groups) {
            if (g.block != null) {
                LayerRecords.clear(g.block.getLayer());
            }
        }
    }

    /** The gradient of every parameter, per group (live views owned by the scope). */
    private NDList[] currentGradients(Scope scope) {
        NDList[] out = new NDList[groups.size()];
        for (int gi = 0; gi < groups.size(); gi++) {
            NDList list = new NDList();
            for (NDArray p : groups.get(gi).params) {
                list.add(scope.own(p.getGradient()));
            }
            out[gi] = list;
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // non-finite values

    /** Whether the new factors, inverses and the proposed step are all finite. */
    private static boolean allFinite(NDList[] factors, KroneckerFactoredBlock.Inverses[] inverses,
            ParameterStep.Proposal proposal) {
        List<NDArray> arrays = new ArrayList<>();
        for (int gi = 0; gi < factors.length; gi++) {
            if (factors[gi] != null) {
                arrays.addAll(factors[gi]);
            }
            if (inverses[gi] != null) {
                arrays.add(inverses[gi].input());
                arrays.add(inverses[gi].output());
            }
        }
        return Tensors.allFinite(arrays) && proposal.isFinite();
    }

    /**
     * Names the first non-finite quantity and applies the policy: true if the step must be
     * skipped (SKIP), throws under THROW.
     */
    private boolean rejectsNonFinite(NDList[] grads, NDList[] factors,
            KroneckerFactoredBlock.Inverses[] inverses, NDList[] naturals,
            ParameterStep.Proposal proposal) {
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            String bad = firstNonFinite(grads[gi], g.paramNames, "gradient");
            if (bad == null && factors[gi] != null) {
                bad = firstNonFinite(factors[gi], List.of("A", "G"), "curvature statistic");
            }
            if (bad == null && inverses[gi] != null) {
                bad = firstNonFinite(new NDList(inverses[gi].input(), inverses[gi].output()),
                        List.of("A", "G"), "damped inverse");
            }
            if (bad == null) { // scaled by (1 − β) or ν in place: finite exactly when n is
                bad = firstNonFinite(naturals[gi], g.paramNames, "natural gradient");
            }
            if (bad == null) {
                bad = firstNonFinite(proposal.momenta()[gi], g.paramNames, "momentum");
            }
            if (bad == null) {
                bad = firstNonFinite(proposal.parameters()[gi], g.paramNames, "updated parameter");
            }
            if (bad != null) {
                return reject(g, bad);
            }
        }
        // every array is finite, but ⟨m, g⟩ overflowed
        return reject(groups.get(0), "clip\u0000inner product ⟨m, g⟩");
    }

    /** @return "name\0quantity" of the first non-finite array, or null */
    private static String firstNonFinite(NDList arrays, List<String> names, String quantity) {
        for (int i = 0; i < arrays.size(); i++) {
            if (!Tensors.isFinite(arrays.get(i))) {
                return names.get(i) + "\u0000" + quantity;
            }
        }
        return null;
    }

    private boolean reject(Group g, String bad) {
        String parameter = bad.substring(0, bad.indexOf('\u0000'));
        String quantity = bad.substring(bad.indexOf('\u0000') + 1);
        String where = LayerSelection.displayName(g.name) + " (" + parameter + ")";
        if (settings.nonFinitePolicy() == NonFinitePolicy.SKIP) {
            skippedSteps++;
            LOG.warn("K-FAC step {} skipped: non-finite {} in {} (skipped so far: {})",
                    stepCount, quantity, where, skippedSteps);
            return true;
        }
        throw new NonFiniteException(g.name, parameter, quantity,
                "non-finite " + quantity + " in " + where + " at K-FAC step " + stepCount
                        + "; parameters, momenta and factors were left as they were (lower lr,"
                        + " raise damping, set klClip, or use nonFinitePolicy(SKIP) to skip such"
                        + " steps)");
    }

    // ---------------------------------------------------------------------------------------
    // state, for checkpoints

    /**
     * Every tensor of the optimizer's state by name: {@code kfac/<layer>/A|G|Ainv|Ginv} and
     * {@code momentum/<group>/<param>} (the root layer is called {@code <root>}). The model's own
     * parameters are not included.
     *
     * @return live arrays, in a fixed order
     */
    Map<String, NDArray> stateTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Group g : groups) {
            String key = g.name.isEmpty() ? "<root>" : g.name;
            if (g.block != null) {
                out.put("kfac/" + key + "/A", g.block.getInputFactor());
                out.put("kfac/" + key + "/G", g.block.getOutputFactor());
                out.put("kfac/" + key + "/Ainv", g.block.getInputInverse());
                out.put("kfac/" + key + "/Ginv", g.block.getOutputInverse());
            }
            NDList momentum = parameterStep.momentum(groups.indexOf(g));
            for (int i = 0; i < g.params.size(); i++) {
                out.put("momentum/" + key + "/" + g.paramNames.get(i), momentum.get(i));
            }
        }
        return out;
    }

    /**
     * The scalar state of a run: the step counters, the learning rate, and per K-FAC layer its
     * statistics updates, inversions and π.
     *
     * @param stepCount completed steps
     * @param skippedSteps skipped steps
     * @param clippedSteps clipped steps
     * @param lastClipFactor ν of the last step
     * @param lr current learning rate
     * @param blocks per layer name: [factorUpdates, inversions, π]
     */
    record Counters(long stepCount, long skippedSteps, long clippedSteps, double lastClipFactor,
            double lr, Map<String, double[]> blocks) {}

    Counters counters() {
        Map<String, double[]> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : getBlocks()) {
            blocks.put(b.getName(), new double[] {b.getFactorUpdates(), b.getInversions(),
                b.getPi()});
        }
        return new Counters(stepCount, skippedSteps, parameterStep.clippedSteps(),
                parameterStep.lastClipFactor(), lr, blocks);
    }

    /**
     * Sets the scalar state (after the tensors of {@link #stateTensors()} were restored).
     *
     * @param c the counters
     * @param rngStates generator states by name
     * @param savedSettings the saved settings as text, or null
     */
    void restore(Counters c, Map<String, Long> rngStates, String savedSettings) {
        stepCount = c.stepCount();
        skippedSteps = c.skippedSteps();
        parameterStep.restoreStatistics(c.clippedSteps(), c.lastClipFactor());
        lr = c.lr();
        for (KroneckerFactoredBlock b : getBlocks()) {
            double[] v = c.blocks().get(b.getName());
            if (v != null) {
                b.restoreCounters((long) v[0], (long) v[1], v[2]);
            }
        }
        for (Map.Entry<String, Rng> e : rngs.entrySet()) {
            Long state = rngStates.get(e.getKey());
            if (state == null) {
                LOG.warn("checkpoint has no state for random generator '{}'; it continues from"
                        + " its current state", e.getKey());
            } else {
                e.getValue().setState(state);
            }
        }
        clearRecords();
        if (savedSettings != null && !savedSettings.equals(settings.toString())) {
            LOG.info("resuming K-FAC with other settings than the checkpoint's: now {}, saved {}",
                    settings, savedSettings);
        }
    }

    /**
     * Saves the complete state of this optimizer and its model (the model's parameters, running
     * statistics included, the factors, inverses and momenta, the counters and the random
     * generators' states), atomically, in the shared checkpoint format ({@link Checkpoint}).
     * Resuming from it continues bit for bit as the uninterrupted run would.
     *
     * @param file the checkpoint file
     * @param metadata the caller's own entries (may be empty)
     * @throws IOException if writing fails; a previous file is then left intact
     */
    public void save(Path file, Map<String, String> metadata) throws IOException {
        Checkpoint.save(new KfacState(this), file, metadata);
    }

    /**
     * {@link #save(Path, Map)} without metadata.
     *
     * @param file the checkpoint file
     * @throws IOException if writing fails
     */
    public void save(Path file) throws IOException {
        save(file, Map.of());
    }

    /**
     * Restores a state written by {@link #save}: the optimizer must have the same layers and
     * groups, of a model of the same shapes.
     *
     * @param file the checkpoint file
     * @return the caller's metadata saved with it
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it is not a valid K-FAC checkpoint of this model (nothing
     *     is changed then)
     */
    public Map<String, String> load(Path file) throws IOException {
        return Checkpoint.load(new KfacState(this), file);
    }

    /** @return the state of every random generator the optimizer reaches, by name */
    Map<String, Long> rngStates() {
        Map<String, Long> out = new LinkedHashMap<>();
        rngs.forEach((k, v) -> out.put(k, v.getState()));
        return out;
    }

    // ---------------------------------------------------------------------------------------
    // accessors

    /** @return the K-FAC blocks, in model order */
    public List<KroneckerFactoredBlock> getBlocks() {
        List<KroneckerFactoredBlock> out = new ArrayList<>();
        for (Group g : groups) {
            if (g.block != null) {
                out.add(g.block);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * @param name a layer's dotted name
     * @return its K-FAC block
     * @throws IllegalArgumentException if the layer has none
     */
    public KroneckerFactoredBlock getBlock(String name) {
        for (Group g : groups) {
            if (g.block != null && g.name.equals(name)) {
                return g.block;
            }
        }
        throw new IllegalArgumentException("K-FAC has no block for a layer named '" + name
                + "'; blocks: " + getBlocks().stream().map(KroneckerFactoredBlock::getName).toList());
    }

    /**
     * @return the names of the groups that take a momentum-SGD step: layer names, or DJL
     *     parameter names for parameters outside every selected layer
     */
    public List<String> getSgdGroups() {
        List<String> out = new ArrayList<>();
        for (Group g : groups) {
            if (g.block == null) {
                out.add(g.name);
            }
        }
        return out;
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
    public Settings getSettings() {
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
    public long getStepCount() {
        return stepCount;
    }

    /** @return steps skipped for a non-finite value (policy SKIP) */
    public long getSkippedSteps() {
        return skippedSteps;
    }

    /** @return the trust-region factor ν of the last step (1 when not clipped or klClip off) */
    public double getLastClipFactor() {
        return parameterStep.lastClipFactor();
    }

    /** @return the number of steps scaled down by klClip (ν < 1) */
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
        for (Group g : groups) {
            if (g.block != null) {
                LayerRecords.setRecording(g.block.getLayer(), false);
                LayerRecords.clear(g.block.getLayer());
            }
        }
        manager.close();
    }

    // ---------------------------------------------------------------------------------------

    /** Builds a {@link Kfac}; every default is here. */
    public static final class Builder {
        private final Block model;
        private final DrawFunction draw;
        private final NllFunction nll;
        private final BatchSource curvatureData;
        private double lr = 3e-3;
        private double damping = 0.03;
        private double statDecay = 0.95;
        private int covEvery = 10;
        private int invEvery = 100;
        private double klClip = 0.01;
        private double momentum = 0.9;
        private double weightDecay = 1e-5;
        private ParameterStep.Momentum momentumForm = ParameterStep.Momentum.HEAVY_BALL;
        private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.THROW;
        private List<String> moduleNames = List.of();
        private List<String> skipNames = List.of();

        private Builder(Block model, DrawFunction draw, NllFunction nll, BatchSource data) {
            this.model = Objects.requireNonNull(model, "model");
            this.draw = Objects.requireNonNull(draw, "draw");
            this.nll = Objects.requireNonNull(nll, "nll");
            this.curvatureData = Objects.requireNonNull(data, "curvatureData");
        }

        /** @param v learning rate η, finite and >= 0 (default 3e-3) @return this */
        public Builder lr(double v) {
            this.lr = v;
            return this;
        }

        /** @param v damping γ > 0 of the factored Tikhonov damping (default 0.03) @return this */
        public Builder damping(double v) {
            this.damping = v;
            return this;
        }

        /**
         * @param v weight of the old factors in the moving averages, in [0, 1) (default 0.95)
         * @return this
         */
        public Builder statDecay(double v) {
            this.statDecay = v;
            return this;
        }

        /** @param v a statistics update every v >= 1 steps (default 10) @return this */
        public Builder covEvery(int v) {
            this.covEvery = v;
            return this;
        }

        /** @param v an inversion of the damped factors every v >= 1 steps (default 100) @return this */
        public Builder invEvery(int v) {
            this.invEvery = v;
            return this;
        }

        /**
         * @param v κ >= 0 of the trust region ν = min(1, √(κ / (η² |⟨m, g⟩|))); 0 turns it off
         *     (default 0.01)
         * @return this
         */
        public Builder klClip(double v) {
            this.klClip = v;
            return this;
        }

        /** @param v momentum β in [0, 1) (default 0.9) @return this */
        public Builder momentum(double v) {
            this.momentum = v;
            return this;
        }

        /**
         * @param v weight decay per step, in [0, 1): added as v·p to the step in the HEAVY_BALL
         *     form, p ← p(1 − v) − ... in the AVERAGE form (default 1e-5)
         * @return this
         */
        public Builder weightDecay(double v) {
            this.weightDecay = v;
            return this;
        }

        /**
         * @param v how the momentum accumulates: HEAVY_BALL (default; m ← βm + νn + wd·p, as the
         *     PyTorch K-FAC implementations) or AVERAGE (m ← βm + (1−β)n, FishLeg's form)
         * @return this
         */
        public Builder momentumForm(ParameterStep.Momentum v) {
            this.momentumForm = Objects.requireNonNull(v, "momentumForm");
            return this;
        }

        /**
         * @param v what a step does on a non-finite value: THROW (default) or SKIP; either way
         *     nothing non-finite is written
         * @return this
         */
        public Builder nonFinitePolicy(NonFinitePolicy v) {
            this.nonFinitePolicy = Objects.requireNonNull(v, "nonFinitePolicy");
            return this;
        }

        /**
         * @param names layers to consider for K-FAC blocks, as FishLeg's moduleNames (default
         *     empty: all); the others take momentum SGD
         * @return this
         */
        public Builder moduleNames(List<String> names) {
            this.moduleNames = List.copyOf(names);
            return this;
        }

        /**
         * @param names layers whose dotted name contains one of these take momentum SGD
         * @return this
         */
        public Builder skipNames(List<String> names) {
            this.skipNames = List.copyOf(names);
            return this;
        }

        Settings settings() {
            check(Double.isFinite(lr) && lr >= 0, "lr must be a finite number >= 0, got " + lr);
            check(Double.isFinite(damping) && damping > 0,
                    "damping must be a finite number > 0, got " + damping);
            check(statDecay >= 0 && statDecay < 1, "statDecay must be in [0, 1), got " + statDecay);
            check(covEvery >= 1, "covEvery must be >= 1, got " + covEvery);
            check(invEvery >= 1, "invEvery must be >= 1, got " + invEvery);
            check(Double.isFinite(klClip) && klClip >= 0,
                    "klClip must be a finite number >= 0 (0 turns it off), got " + klClip);
            check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
            check(weightDecay >= 0 && weightDecay < 1,
                    "weightDecay must be in [0, 1), got " + weightDecay);
            return new Settings(lr, damping, statDecay, covEvery, invEvery, klClip, momentum,
                    weightDecay, momentumForm, nonFinitePolicy, moduleNames, skipNames);
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
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
