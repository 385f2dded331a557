package ai.fishleg.training;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.util.Pair;
import ai.fishleg.core.CurvatureOptimizer;
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
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Any {@link CurvatureOptimizer} of the library (FishLeg, K-FAC, Muon) as a DJL {@link Optimizer},
 * so that DJL's {@code Trainer} and {@code EasyTrain.fit} train with it:
 *
 * <pre>{@code
 * TrainerOptimizer<Kfac> kfac = TrainerOptimizer.builder(model, block -> Kfac.builder(block,
 *         DrawFunction.of(likelihood), NllFunction.of(likelihood), curvatureData).build()).build();
 * DefaultTrainingConfig config = new DefaultTrainingConfig(new LikelihoodLoss(likelihood))
 *         .optOptimizer(kfac);
 * }</pre>
 *
 * <p><b>How a training step runs.</b> {@code trainer.step()} calls {@link #update} once per
 * trainable parameter of the model (DJL's {@code ParameterStore} visits them in no fixed order),
 * after the backward pass of the batch. The first call of a step, whichever parameter it is for,
 * runs one {@link CurvatureOptimizer#step()} from the gradients the trainer computed, then zeroes
 * the gradients of the parameters it updated ({@link CurvatureOptimizer#getManagedParameters()}),
 * as DJL's optimizers do on PyTorch, so the next backward pass starts from zero. Each call then
 * handles its own parameter: nothing more for a managed one; for another, the DJL optimizer named
 * with {@link Builder#trainUnmanagedWith} gets the call unchanged, or, with {@link
 * Builder#leaveUnmanagedAlone}, the weight is kept and its gradient zeroed. The result is the
 * hand-written loop {@code zeroGrad(); backward; opt.step(); other.update(...)}.
 *
 * <p><b>When the optimizer is built.</b> It needs the model's parameters: if the model is
 * initialised when {@link Builder#build()} runs, it is built there; otherwise at the first training
 * step (after {@code trainer.initialize}). One device (the optimizer updates the model's own
 * arrays); the model must be the trainer's. Close this to free the optimizer's state.
 *
 * @param <C> the optimizer's type
 */
public final class TrainerOptimizer<C extends CurvatureOptimizer> extends Optimizer
        implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TrainerOptimizer.class);

    /** When the wrapped optimizer is built, for a factory that must know. */
    enum BuiltWhen {
        /** when this adapter is built, or on request, before any gradient */
        BEFORE_TRAINING,
        /** in the first training step: its gradients were computed before the optimizer existed */
        IN_FIRST_STEP
    }

    private final Model model;
    private final BiFunction<Block, BuiltWhen, C> factory;
    private final Consumer<C> beforeStep;
    private final Consumer<C> afterStep;
    private final Optimizer unmanagedOptimizer;
    private final boolean leaveUnmanaged;

    private C optimizer;
    /** DJL parameter id -> parameter, for every parameter of the model. */
    private Map<String, Parameter> parametersById;
    /** Ids of the parameters the optimizer updates. */
    private Set<String> managedIds;
    /** Ids already updated in the current training step. */
    private final Set<String> updatedThisStep = new HashSet<>();

    private TrainerOptimizer(Builder<C> b) {
        super(new NoSettings());
        this.model = b.model;
        this.factory = b.factory;
        this.beforeStep = b.beforeStep;
        this.afterStep = b.afterStep;
        this.unmanagedOptimizer = b.unmanagedOptimizer;
        this.leaveUnmanaged = b.leaveUnmanaged;
        Block block = model.getBlock();
        if (block != null && block.isInitialized()) {
            optimizer(BuiltWhen.BEFORE_TRAINING);
        }
    }

    /**
     * Starts building the adapter.
     *
     * @param model the DJL model that the trainer trains (its block may be initialised later)
     * @param factory builds the optimizer on the model's (initialised) block
     * @param <C> the optimizer's type
     * @return the builder
     */
    public static <C extends CurvatureOptimizer> Builder<C> builder(
            Model model, Function<Block, C> factory) {
        Objects.requireNonNull(factory, "factory");
        return new Builder<>(model, (block, when) -> factory.apply(block));
    }

    /** As {@link #builder(Model, Function)}, for a factory that checks when it is called. */
    static <C extends CurvatureOptimizer> Builder<C> builder(
            Model model, BiFunction<Block, BuiltWhen, C> factory) {
        return new Builder<>(model, factory);
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
        C opt = optimizer(BuiltWhen.IN_FIRST_STEP);
        Parameter parameter = parametersById.get(parameterId);
        if (parameter == null) {
            throw new IllegalStateException(
                    "the trainer asked the optimizer to update parameter id " + parameterId
                            + ", which is not a parameter of the model it was built for ("
                            + model.getName() + "); build the optimizer with the trainer's model");
        }
        if (weight != parameter.getArray()) {
            // A copy: several devices, or a device other than the parameters' own.
            throw new IllegalStateException(
                    "the optimizer updates the model's own parameter arrays, but the trainer passed"
                            + " a copy of " + parameter.getName() + " on " + weight.getDevice()
                            + " (the model's array is on " + parameter.getArray().getDevice()
                            + "); train on one device, the parameters' own: new"
                            + " DefaultTrainingConfig(loss).optDevices(new Device[] {"
                            + parameter.getArray().getDevice() + "})");
        }
        if (updatedThisStep.isEmpty() || updatedThisStep.contains(parameterId)) {
            updatedThisStep.clear();
            step(opt);
        }
        updatedThisStep.add(parameterId);
        if (managedIds.contains(parameterId)) {
            return; // the optimizer's step has updated it
        }
        if (unmanagedOptimizer != null) {
            unmanagedOptimizer.update(parameterId, weight, grad);
        } else {
            try (Scope scope = Scope.open(weight.getManager())) {
                Tensors.zero(scope.own(weight.getGradient()));
            }
        }
    }

    /** One step between the listeners; the managed gradients are zeroed before the second. */
    private void step(C opt) {
        beforeStep.accept(opt);
        opt.step();
        List<NDArray> managed = opt.getManagedParameters();
        if (!managed.isEmpty()) {
            try (Scope scope = Scope.open(managed.get(0).getManager())) {
                for (NDArray p : managed) {
                    Tensors.zero(scope.own(p.getGradient()));
                }
            }
        }
        afterStep.accept(opt);
    }

    /** The optimizer, built on first use. */
    private C optimizer(BuiltWhen when) {
        if (optimizer != null) {
            return optimizer;
        }
        Block block = model.getBlock();
        if (block == null || !block.isInitialized()) {
            throw new IllegalStateException(
                    "the model " + model.getName() + " has no initialised block; set its block and"
                            + " call trainer.initialize(inputShape) before training");
        }
        C built = factory.apply(block, when);
        Map<String, Parameter> byId = new HashMap<>();
        Set<NDArray> managedArrays = Collections.newSetFromMap(new IdentityHashMap<>());
        managedArrays.addAll(built.getManagedParameters());
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
        String name = built.getClass().getSimpleName();
        if (!unmanagedNames.isEmpty() && unmanagedOptimizer == null && !leaveUnmanaged) {
            built.close();
            throw new IllegalStateException(
                    name + " does not manage " + unmanagedNames + "; say what happens to them:"
                            + " trainUnmanagedWith(aDjlOptimizer) trains them,"
                            + " leaveUnmanagedAlone() keeps them fixed");
        }
        if (!unmanagedNames.isEmpty()) {
            LOG.info("parameters {} does not manage, {}: {}", name,
                    unmanagedOptimizer != null
                            ? "trained by " + unmanagedOptimizer.getClass().getSimpleName()
                            : "left alone",
                    unmanagedNames);
        }
        this.optimizer = built;
        this.parametersById = byId;
        this.managedIds = managed;
        return built;
    }

    /**
     * @return the wrapped optimizer (built now if it was not yet; the model must be initialised),
     *     for its accessors and {@link CurvatureOptimizer#lastStep()}
     */
    public C getOptimizer() {
        return optimizer(BuiltWhen.BEFORE_TRAINING);
    }

    /** @return the DJL optimizer that trains the parameters the optimizer does not manage, or null */
    public Optimizer getUnmanagedOptimizer() {
        return unmanagedOptimizer;
    }

    /** Frees the wrapped optimizer's state; the model is not touched. */
    @Override
    public void close() {
        if (optimizer != null) {
            optimizer.close();
        }
    }

    /** The base class's settings (rescaling, clipping, weight decay) do not apply. */
    private static final class NoSettings extends OptimizerBuilder<NoSettings> {
        @Override
        protected NoSettings self() {
            return this;
        }
    }

    /**
     * Builds a {@link TrainerOptimizer}.
     *
     * @param <C> the optimizer's type
     */
    public static final class Builder<C extends CurvatureOptimizer> {
        private final Model model;
        private final BiFunction<Block, BuiltWhen, C> factory;
        private Consumer<C> beforeStep = c -> {};
        private Consumer<C> afterStep = c -> {};
        private Optimizer unmanagedOptimizer;
        private boolean leaveUnmanaged;

        private Builder(Model model, BiFunction<Block, BuiltWhen, C> factory) {
            this.model = Objects.requireNonNull(model, "model");
            this.factory = Objects.requireNonNull(factory, "factory");
        }

        /**
         * @param listener called before each step with the optimizer
         * @return this
         */
        public Builder<C> beforeStep(Consumer<C> listener) {
            this.beforeStep = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * @param listener called after each step with the optimizer (for example to record its
         *     {@link CurvatureOptimizer#lastStep()})
         * @return this
         */
        public Builder<C> afterStep(Consumer<C> listener) {
            this.afterStep = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /**
         * Trains the parameters the optimizer does not manage with a DJL optimizer: it receives
         * exactly the calls the trainer would make if it were the only optimizer, for those.
         *
         * @param optimizer e.g. {@code Optimizer.adam().build()}
         * @return this
         */
        public Builder<C> trainUnmanagedWith(Optimizer optimizer) {
            this.unmanagedOptimizer = Objects.requireNonNull(optimizer, "optimizer");
            this.leaveUnmanaged = false;
            return this;
        }

        /**
         * Keeps the parameters the optimizer does not manage at their values (their gradients are
         * zeroed at each step). Without this or {@link #trainUnmanagedWith}, a model with
         * unmanaged trainable parameters is rejected, so that nothing is frozen by accident.
         *
         * @return this
         */
        public Builder<C> leaveUnmanagedAlone() {
            this.unmanagedOptimizer = null;
            this.leaveUnmanaged = true;
            return this;
        }

        /** @return the adapter; the optimizer is built now if the model is initialised */
        public TrainerOptimizer<C> build() {
            return new TrainerOptimizer<>(this);
        }
    }
}
