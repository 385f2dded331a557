package ai.fishleg.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * What the step benchmark trains: a network, its likelihood and the shape of its batches. Data are
 * random (uniform in [0, 1) inputs; for an auto-encoder the targets are the inputs, for a
 * classifier one-hot rows of random classes): the time of a step does not depend on the values.
 *
 * @param name the task's name
 * @param model a new, uninitialised network
 * @param init how the network's parameters are initialised
 * @param likelihood a new likelihood
 * @param inputShape the shape of one batch of inputs (batch first)
 * @param classes 0 for an auto-encoder, else the number of classes
 * @param fishLeg sets the task's FishLeg settings on a builder (all of them, seed included), which
 *     the benchmark then gives its seed and sets to full Q or to batchSpeedup
 */
public record Workload(
        String name,
        Supplier<Block> model,
        Initializer init,
        Supplier<FishLikelihood> likelihood,
        Shape inputShape,
        int classes,
        UnaryOperator<FishLeg.Builder> fishLeg) {

    /** Initialises a new network. */
    @FunctionalInterface
    public interface Initializer {
        /**
         * @param model the network
         * @param manager owner of its parameters
         * @param dataType element type
         * @param inputShape the shape of one batch
         * @param seed seed of the values
         */
        void initialize(Block model, NDManager manager, DataType dataType, Shape inputShape, long seed);
    }

    /**
     * FishLeg's parameter step size on random data: presets tuned on real images can diverge on
     * noise within a few steps, which would end the run; what a step costs does not depend on it.
     */
    static final double SAFE_FISH_LR = 1e-3;

    /**
     * The estimator the benchmark times: the seed's rank-1 estimator, whatever the preset uses. It
     * is what the reference's step times were measured with, and what {@link Flops} counts (one
     * sampled-label backward pass per auxiliary update; the antithetic estimator takes two).
     */
    static final Estimator TIMED_ESTIMATOR = Estimator.RANK1;

    /**
     * The workload of a built-in task: its network, initialisation, likelihood, batch size and
     * FishLeg preset (without warm-up data: Q0 = scale·I; step size at most {@value
     * #SAFE_FISH_LR}; the rank-1 estimator, see {@link #TIMED_ESTIMATOR}).
     *
     * @param task the task
     * @return its workload
     */
    public static Workload of(Task task) {
        Hyperparameters preset = task.fishLegPreset();
        return new Workload(
                task.name(),
                task::newModel,
                (model, manager, type, shape, seed) ->
                        ModelInit.initialize(model, manager, type, shape, task.init(), seed),
                task::newLikelihood,
                task.inputShape(task.batchSize()),
                task.isClassifier() ? MnistFolder.CLASSES : 0,
                b -> b.settings(preset).warmup(0)
                        .fishLr(Math.min(preset.fishLr(), SAFE_FISH_LR))
                        .estimator(TIMED_ESTIMATOR));
    }

    /** @return the batch size */
    public long batchSize() {
        return inputShape.get(0);
    }

    /**
     * Random inputs for {@code batches} batches, stacked on the first axis.
     *
     * @param manager owner
     * @param batches number of batches
     * @param seed seed of the engine's generator
     * @param dataType element type
     * @return inputs
     */
    NDArray randomInputs(NDManager manager, int batches, long seed, DataType dataType) {
        manager.getEngine().setRandomSeed(Math.toIntExact(seed));
        long[] dims = inputShape.getShape().clone();
        dims[0] *= batches;
        return manager.randomUniform(0, 1, new Shape(dims), dataType);
    }

    /**
     * @param inputs inputs from {@link #randomInputs}
     * @param dataType element type
     * @return the matching targets
     */
    NDArray targets(NDArray inputs, DataType dataType) {
        if (classes == 0) {
            return inputs;
        }
        long n = inputs.getShape().get(0);
        NDManager m = inputs.getManager();
        try (NDArray labels = m.randomInteger(0, classes, new Shape(n), DataType.INT32)) {
            return labels.oneHot(classes).toType(dataType, false);
        }
    }
}
