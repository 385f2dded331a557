package ai.fishleg.training;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.training.optimizer.Optimizer;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.AuxInfo;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Initialization;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

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
 * <p>The trainer's calls are handled by the adapter every optimizer of the library shares ({@link
 * TrainerOptimizer}); this class adds FishLeg's loss, its auxiliary metrics and the check on
 * re-initialising settings.
 *
 * <p><b>Limits.</b> One device (FishLeg updates the model's own parameter arrays); the model must
 * be the trainer's model; the loss should be {@link #getLoss()} (FishLeg's Fisher is that of the
 * likelihood). Close the optimizer (or the model) to free FishLeg's state.
 */
public final class FishLegOptimizer extends Optimizer implements AutoCloseable {

    /** Name of the evaluator that reports the auxiliary loss. */
    public static final String AUX_LOSS = "AuxLoss";
    /** Name of the evaluator that reports the check uᵀ[(ggᵀ + γI)Q − I]u. */
    public static final String AUX_CHECK = "AuxCheck";
    /** Name of the evaluator that reports ‖u‖², the squared norm of the stored gradient. */
    public static final String AUX_G2 = "AuxG2";

    private final FishLikelihood likelihood;
    private final BatchSource auxData;
    private final Consumer<FishLeg.Builder> settings;
    private final LikelihoodLoss loss;
    private final List<AuxMetric> metrics;
    /** The adapter that drives FishLeg from the trainer's calls, as any optimizer of the library. */
    private final TrainerOptimizer<FishLeg> adapter;
    /** Auxiliary Adam steps before the current step. */
    private long auxBefore;

    private FishLegOptimizer(Builder b) {
        super(new NoSettings());
        this.likelihood = b.likelihood;
        this.auxData = b.auxData;
        this.settings = b.settings;
        this.loss = new LikelihoodLoss(likelihood);
        this.metrics =
                List.of(
                        new AuxMetric(AUX_LOSS, AuxInfo::auxLoss),
                        new AuxMetric(AUX_CHECK, AuxInfo::check),
                        new AuxMetric(AUX_G2, AuxInfo::g2));
        TrainerOptimizer.Builder<FishLeg> adapterBuilder =
                TrainerOptimizer.builder(b.model, this::build)
                        .beforeStep(f -> auxBefore = f.getAuxUpdateCount())
                        .afterStep(this::recordAux);
        if (b.unmanagedOptimizer != null) {
            adapterBuilder.trainUnmanagedWith(b.unmanagedOptimizer);
        } else if (b.leaveUnmanaged) {
            adapterBuilder.leaveUnmanagedAlone();
        }
        this.adapter = adapterBuilder.build();
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
        adapter.update(parameterId, weight, grad);
    }

    /** Records the last auxiliary update of a step that took an auxiliary Adam step. */
    private void recordAux(FishLeg f) {
        if (f.getAuxUpdateCount() > auxBefore) {
            AuxInfo info = f.getLastAuxInfo();
            for (AuxMetric m : metrics) {
                m.record(info);
            }
        }
    }

    /** Builds FishLeg on the model's initialised block. */
    private FishLeg build(Block block, TrainerOptimizer.BuiltWhen when) {
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
        if (when == TrainerOptimizer.BuiltWhen.IN_FIRST_STEP && init != Initialization.UNIFORM) {
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
        return adapter.getUnmanagedOptimizer();
    }

    /**
     * @return the FishLeg instance (built now if it was not yet; the model must be initialised),
     *     for its accessors: managed layers, step count, auxiliary loss, η
     */
    public FishLeg getFishLeg() {
        return adapter.getOptimizer();
    }

    /** Frees FishLeg's state (λ, momentum, stored gradients); the model is not touched. */
    @Override
    public void close() {
        adapter.close();
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
