package ai.fishleg.training;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.AuxInfo;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Initialization;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FishLeg as a DJL {@link Optimizer}, so that DJL's {@code Trainer} and {@code EasyTrain.fit} train
 * with it:
 *
 * <pre>{@code
 * FishLegOptimizer fishLeg = FishLegOptimizer.builder(model, likelihood, auxData)
 *         .configure(b -> b.fishLr(0.05).damping(0.5))
 *         .trainUnmanagedWith(Optimizer.adam().build())   // or .leaveUnmanagedAlone()
 *         .build();
 * DefaultTrainingConfig config = new DefaultTrainingConfig(fishLeg.getLoss())
 *         .optOptimizer(fishLeg)
 *         .addEvaluators(fishLeg.getEvaluators())         // aux loss, check, ‖u‖² in the log
 *         .addTrainingListeners(TrainingListener.Defaults.logging());
 * }</pre>
 *
 * <p><b>How a training step runs.</b> {@code trainer.step()} calls {@link #update} once per
 * trainable parameter of the model (DJL's {@code ParameterStore} visits them in no fixed order),
 * after the backward pass of the batch. The first call of a step, whichever parameter it is for,
 * runs one {@link FishLeg#step()}: on schedule the auxiliary updates (forward and backward passes
 * on a batch of the auxiliary data with labels drawn from the model, which save and restore every
 * gradient), then the natural-gradient update of every managed parameter from the gradients the
 * trainer computed. It then zeroes the managed gradients, as DJL's optimizers do on PyTorch, so the
 * next backward pass starts from zero. Each call then handles its own parameter: nothing more for a
 * managed one; for one FishLeg does not manage, the DJL optimizer named with {@link
 * Builder#trainUnmanagedWith} gets the call unchanged (DJL's parameter id, weight and gradient),
 * or, with {@link Builder#leaveUnmanagedAlone}, the weight is kept and its gradient zeroed. So
 * every update of the other optimizer comes after the FishLeg step (and its auxiliary passes), in
 * every step, and the result is the hand-written loop {@code zeroGrad(); backward; fishLeg.step();
 * other.update(...)}.
 *
 * <p><b>When FishLeg is built.</b> FishLeg needs the model's parameters. If the model is
 * initialised when {@link Builder#build()} runs, FishLeg is built there; otherwise at the first
 * training step (the usual DJL order: the trainer, and {@code trainer.initialize}, come after the
 * training config). Settings that re-initialise weights ({@code initialization} other than
 * UNIFORM) must not wait for that: initialise the model's block before building this optimizer,
 * or call {@link #getFishLeg()} after {@code trainer.initialize} and before training.
 *
 * <p><b>Limits.</b> One device (FishLeg updates the model's own parameter arrays); the model must
 * be the trainer's model; the loss should be {@link #getLoss()} (FishLeg's Fisher is that of the
 * likelihood). Close the optimizer (or the model) to free FishLeg's state.
 */
public final class FishLegOptimizer extends Optimizer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(FishLegOptimizer.class);

    /** Name of the evaluator that reports the auxiliary loss. */
    public static final String AUX_LOSS = "AuxLoss";
    /** Name of the evaluator that reports the check uᵀ[(ggᵀ + γI)Q − I]u. */
    public static final String AUX_CHECK = "AuxCheck";
    /** Name of the evaluator that reports ‖u‖², the squared norm of the stored gradient. */
    public static final String AUX_G2 = "AuxG2";

    private final Model model;
    private final FishLikelihood likelihood;
    private final BatchSource auxData;
    private final Consumer<FishLeg.Builder> settings;
    private final Optimizer unmanagedOptimizer;
    private final boolean leaveUnmanaged;
    private final LikelihoodLoss loss;
    private final List<AuxMetric> metrics;

    private FishLeg fishLeg;
    /** DJL parameter id -> parameter, for every parameter of the model. */
    private Map<String, Parameter> parametersById;
    /** Ids of the parameters FishLeg updates. */
    private Set<String> managedIds;
    /** Ids already updated in the current training step. */
    private final Set<String> updatedThisStep = new HashSet<>();

    private FishLegOptimizer(Builder b) {
        super(new NoSettings());
        this.model = b.model;
        this.likelihood = b.likelihood;
        this.auxData = b.auxData;
        this.settings = b.settings;
        this.unmanagedOptimizer = b.unmanagedOptimizer;
        this.leaveUnmanaged = b.leaveUnmanaged;
        this.loss = new LikelihoodLoss(likelihood);
        this.metrics =
                List.of(
                        new AuxMetric(AUX_LOSS, AuxInfo::auxLoss),
                        new AuxMetric(AUX_CHECK, AuxInfo::check),
                        new AuxMetric(AUX_G2, AuxInfo::g2));
        Block block = model.getBlock();
        if (block != null && block.isInitialized()) {
            fishLeg(false);
        }
    }

    /**
     * Starts building the optimizer.
     *
     * @param model the DJL model that the trainer trains (its block may be initialised later)
     * @param likelihood the likelihood: its nll is the loss, and targets are drawn from it for the
     *     auxiliary updates
     * @param auxData hands out one random batch per auxiliary update, e.g. {@link
     *     ai.fishleg.data.BatchSources#randomBatches(ai.djl.training.dataset.RandomAccessDataset,
     *     int, long)} over the training dataset
     * @return the builder
     */
    public static Builder builder(Model model, FishLikelihood likelihood, BatchSource auxData) {
        return new Builder(model, likelihood, auxData);
    }

    /**
     * Called by DJL's parameter server once per trainable parameter and training step; see the
     * class comment.
     *
     * @param parameterId DJL's id of the parameter
     * @param weight the parameter's array
     * @param grad its gradient
     */
    @Override
    public void update(String parameterId, NDArray weight, NDArray grad) {
        FishLeg f = fishLeg(true);
        Parameter parameter = parametersById.get(parameterId);
        if (parameter == null) {
            throw new IllegalStateException(
                    "the trainer asked FishLegOptimizer to update parameter id " + parameterId
                            + ", which is not a parameter of the model it was built for ("
                            + model.getName() + "); build the optimizer with the trainer's model");
        }
        if (weight != parameter.getArray()) {
            // A copy: several devices, or a device other than the parameters' own.
            throw new IllegalStateException(
                    "FishLeg updates the model's own parameter arrays, but the trainer passed a"
                            + " copy of " + parameter.getName() + " on " + weight.getDevice()
                            + " (the model's array is on " + parameter.getArray().getDevice()
                            + "); train on one device, the parameters' own: new"
                            + " DefaultTrainingConfig(loss).optDevices(new Device[] {"
                            + parameter.getArray().getDevice() + "})");
        }
        if (updatedThisStep.isEmpty() || updatedThisStep.contains(parameterId)) {
            updatedThisStep.clear();
            step(f);
        }
        updatedThisStep.add(parameterId);
        if (managedIds.contains(parameterId)) {
            return; // the FishLeg step has updated it
        }
        if (unmanagedOptimizer != null) {
            unmanagedOptimizer.update(parameterId, weight, grad);
        } else {
            try (Scope scope = Scope.open(f.getManager())) {
                Tensors.zero(scope.own(weight.getGradient()));
            }
        }
    }

    /** One FishLeg step, then the managed gradients are zeroed and the aux metrics recorded. */
    private void step(FishLeg f) {
        long auxBefore = f.getAuxUpdateCount();
        f.step();
        try (Scope scope = Scope.open(f.getManager())) {
            for (CurvatureBlock block : f.getBlocks()) {
                for (NDArray p : block.getParameterArrays()) {
                    Tensors.zero(scope.own(p.getGradient()));
                }
            }
        }
        if (f.getAuxUpdateCount() > auxBefore) {
            AuxInfo info = f.getLastAuxInfo();
            for (AuxMetric m : metrics) {
                m.record(info);
            }
        }
    }

    /**
     * The FishLeg instance, built on first use.
     *
     * @param inStep whether a training step asks (its gradients were computed before FishLeg
     *     existed)
     */
    private FishLeg fishLeg(boolean inStep) {
        if (fishLeg != null) {
            return fishLeg;
        }
        Block block = model.getBlock();
        if (block == null || !block.isInitialized()) {
            throw new IllegalStateException(
                    "the model " + model.getName() + " has no initialised block; set its block and"
                            + " call trainer.initialize(inputShape) before training");
        }
        FishLeg.Builder b =
                FishLeg.builder(
                                block,
                                DrawFunction.of(likelihood),
                                NllFunction.of(likelihood),
                                auxData)
                        .likelihood(likelihood);
        settings.accept(b);
        FishLeg built = b.build();
        Initialization init = built.getHyperparameters().initialization();
        if (inStep && init != Initialization.UNIFORM) {
            built.close();
            throw new IllegalStateException(
                    "initialization " + init + " re-initialises the managed weights when FishLeg"
                            + " is built, which must happen before the first gradient; the model"
                            + " was not initialised when FishLegOptimizer was built, so FishLeg was"
                            + " built in the first training step. Initialise the model first"
                            + " (model.getBlock().initialize(manager, dataType, inputShape)), then"
                            + " build the optimizer, or call getFishLeg() after"
                            + " trainer.initialize(...) and before training");
        }
        Map<String, Parameter> byId = new HashMap<>();
        Set<NDArray> managedArrays = Collections.newSetFromMap(new IdentityHashMap<>());
        for (CurvatureBlock cb : built.getBlocks()) {
            managedArrays.addAll(cb.getParameterArrays());
        }
        Set<String> managed = new HashSet<>();
        List<String> unmanagedNames = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter param = p.getValue();
            byId.put(param.getId(), param);
            if (managedArrays.contains(param.getArray())) {
                managed.add(param.getId());
            } else if (param.requiresGradient()) {
                unmanagedNames.add(p.getKey());
            }
        }
        if (!unmanagedNames.isEmpty() && unmanagedOptimizer == null && !leaveUnmanaged) {
            built.close();
            throw new IllegalStateException(
                    "FishLeg does not manage " + unmanagedNames + "; say what happens to them:"
                            + " FishLegOptimizer.Builder.trainUnmanagedWith(aDjlOptimizer) trains"
                            + " them, leaveUnmanagedAlone() keeps them fixed");
        }
        if (!unmanagedNames.isEmpty()) {
            LOG.info(
                    "parameters FishLeg does not manage, {}: {}",
                    unmanagedOptimizer != null
                            ? "trained by " + unmanagedOptimizer.getClass().getSimpleName()
                            : "left alone",
                    unmanagedNames);
        }
        this.fishLeg = built;
        this.parametersById = byId;
        this.managedIds = managed;
        return built;
    }

    // ---------------------------------------------------------------------------------------
    // what goes into the training config

    /** @return the loss to put into {@link DefaultTrainingConfig}: the likelihood's nll */
    public LikelihoodLoss getLoss() {
        return loss;
    }

    /**
     * @return evaluators {@value #AUX_LOSS}, {@value #AUX_CHECK} and {@value #AUX_G2} that report
     *     FishLeg's auxiliary updates to DJL's listeners (add them with {@link
     *     DefaultTrainingConfig#addEvaluators})
     */
    public List<Evaluator> getEvaluators() {
        return List.copyOf(metrics);
    }

    /** @return the DJL optimizer that trains the parameters FishLeg does not manage, or null */
    public Optimizer getUnmanagedOptimizer() {
        return unmanagedOptimizer;
    }

    /**
     * @return the FishLeg instance (built now if it was not yet; the model must be initialised),
     *     for its accessors: managed layers, step count, auxiliary loss, η
     */
    public FishLeg getFishLeg() {
        return fishLeg(false);
    }

    /** Frees FishLeg's state (λ, momentum, stored gradients); the model is not touched. */
    @Override
    public void close() {
        if (fishLeg != null) {
            fishLeg.close();
        }
    }

    /** The base class's settings (rescaling, clipping, weight decay) do not apply to FishLeg. */
    private static final class NoSettings extends OptimizerBuilder<NoSettings> {
        @Override
        protected NoSettings self() {
            return this;
        }
    }

    /** Builds a {@link FishLegOptimizer}. */
    public static final class Builder {
        private final Model model;
        private final FishLikelihood likelihood;
        private final BatchSource auxData;
        private Consumer<FishLeg.Builder> settings = b -> {};
        private Optimizer unmanagedOptimizer;
        private boolean leaveUnmanaged;

        private Builder(Model model, FishLikelihood likelihood, BatchSource auxData) {
            this.model = Objects.requireNonNull(model, "model");
            this.likelihood = Objects.requireNonNull(likelihood, "likelihood");
            this.auxData = Objects.requireNonNull(auxData, "auxData");
        }

        /**
         * FishLeg's settings, applied to its builder when FishLeg is built (see {@link
         * FishLeg.Builder} for each one).
         *
         * @param settings e.g. {@code b -> b.fishLr(0.05).damping(0.5).updateAuxEvery(10)}
         * @return this
         */
        public Builder configure(Consumer<FishLeg.Builder> settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
            return this;
        }

        /**
         * Trains the parameters FishLeg does not manage (unsupported layer types, layers left out
         * by moduleNames or skipNames) with a DJL optimizer: it receives exactly the calls the
         * trainer would make if it were the only optimizer, for those parameters.
         *
         * @param optimizer e.g. {@code Optimizer.adam().build()}
         * @return this
         */
        public Builder trainUnmanagedWith(Optimizer optimizer) {
            this.unmanagedOptimizer = Objects.requireNonNull(optimizer, "optimizer");
            this.leaveUnmanaged = false;
            return this;
        }

        /**
         * Keeps the parameters FishLeg does not manage at their values (their gradients are
         * zeroed at each step). Without this or {@link #trainUnmanagedWith}, a model with
         * unmanaged trainable parameters is rejected, so that nothing is frozen by accident.
         *
         * @return this
         */
        public Builder leaveUnmanagedAlone() {
            this.unmanagedOptimizer = null;
            this.leaveUnmanaged = true;
            return this;
        }

        /**
         * Builds the optimizer; FishLeg itself is built now if the model is initialised, else at
         * the first training step.
         *
         * @return the optimizer
         */
        public FishLegOptimizer build() {
            return new FishLegOptimizer(this);
        }
    }
}
