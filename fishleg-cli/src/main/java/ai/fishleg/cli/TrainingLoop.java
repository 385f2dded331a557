package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.tasks.Evaluation;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The training loop shared by {@code train}, {@code compare} and {@code demo}: every optimizer
 * sees the same initial weights, the same batches in the same order and the same evaluation.
 *
 * <p>Per step: {@code zeroGrad()}; forward and backward of the task's negative log-likelihood on
 * one batch inside a {@link GradientCollector}; {@code step()}. Every array of a step lives in a
 * sub-manager closed at the end of the step, so memory stays flat over long runs. The training
 * set is reshuffled at the start of each epoch (incomplete last batches are dropped). A run stops
 * at the first non-finite training loss, or when FishLeg refuses a non-finite step (diverged); and
 * early, not diverged, when its time limit is spent or an evaluation reaches its target loss
 * ({@link Budget}).
 *
 * <p>With checkpoints (FishLeg and K-FAC), the optimizer's checkpoint also holds the loop's own state
 * ({@link LoopState}), so a resumed run takes the batches, losses and rows an uninterrupted run
 * would have.
 */
final class TrainingLoop {

    /** Receives progress as the run goes. */
    interface Listener {
        /**
         * @param optimizer the optimizer about to train
         * @param firstStep steps already done (0, or the step of the checkpoint resumed from)
         * @param totalSteps the step the run will end at
         */
        default void started(OptimizerKind optimizer, long firstStep, long totalSteps) {}

        /**
         * @param step steps completed
         * @param runningLoss mean training loss since the last evaluation
         */
        default void stepped(long step, double runningLoss) {}

        /** @param row metrics after an evaluation */
        default void evaluated(MetricsRow row) {}

        /** @param result the finished run */
        default void finished(RunResult result) {}
    }

    private static final long SHUFFLE_STREAM = 0x5348554646L;
    private static final long AUX_STREAM = 0x415558L;

    private final LoadedData data;
    private final OptimizerSpec spec;
    private final Budget budget;
    private final Checkpointing checkpoints;
    private final Listener listener;
    private final NDManager runManager;
    /** The training examples the loop takes batches of (with --spark: their ids). */
    private final ai.fishleg.tasks.Task.Split train;
    private final Block model;
    private final FishLikelihood likelihood;
    private final NllFunction nll;
    private final StepRule rule;
    private final long examples;
    private final long perEpoch;
    private final long evalInterval;
    private final Rng shuffle;
    private final Map<String, String> identity;
    private final LoopState state;

    /** The current epoch's order of the training examples. */
    private int[] order;
    /** The step of the last periodic checkpoint, or -1. */
    private long savedAt = -1;
    /** What was not finite, or null. */
    private String divergence;
    /** The evaluation at the end of a run that is not a scheduled one, or null. */
    private MetricsRow endRow;

    private TrainingLoop(LoadedData data, OptimizerSpec spec, RunContext context, Checkpointing checkpoints,
            Listener listener, NDManager runManager, Block model, FishLikelihood likelihood, StepRule rule,
            ai.fishleg.tasks.Task.Split train, NllFunction nll) {
        this.data = data;
        this.spec = spec;
        this.budget = context.budget();
        this.checkpoints = checkpoints;
        this.listener = listener;
        this.runManager = runManager;
        this.model = model;
        this.likelihood = likelihood;
        this.nll = nll;
        this.rule = OpProfile.wrap(rule, spec.kind().label(), runManager);
        this.train = train;
        this.examples = train.size();
        this.perEpoch = budget.stepsPerEpoch(examples);
        this.evalInterval = budget.evalInterval(examples);
        this.shuffle = new Rng(context.seed() ^ SHUFFLE_STREAM);
        this.identity = LoopState.identity(context, spec.kind(), rule.hyperparameters());
        this.state = checkpoints.resume() == null
                ? new LoopState(shuffle.getState())
                : resume(rule, checkpoints.resume(), identity, context.task().name());
    }

    /**
     * Trains a fresh network of the task with one optimizer, or continues a checkpointed run.
     *
     * @param data the task's data
     * @param spec the optimizer and its settings
     * @param context the run: budget (epochs or steps, batch size, evaluation interval, time
     *     limit, target loss to stop at; when resuming, how many more steps), initial weights, seed
     *     (of the initial weights, the batch order and the optimizer's sampling)
     * @param checkpoints what to save and what to resume from
     * @param listener progress receiver
     * @return the metrics and summary of the run
     * @throws IllegalArgumentException if the checkpoint to resume from cannot continue this run
     *     (another task, model, data, batch size, seed or optimizer setting), or a checkpoint
     *     cannot be read or written
     */
    static RunResult run(LoadedData data, OptimizerSpec spec, RunContext context, Checkpointing checkpoints,
            Listener listener) {
        return run(data, spec, context, checkpoints, listener, java.util.Optional.empty());
    }

    /**
     * {@link #run(LoadedData, OptimizerSpec, RunContext, Checkpointing, Listener)}, with
     * {@code --spark} on the executors of a Spark backend: the loop, the optimizer and the
     * evaluation stay on the driver; every loss and gradient (and FishLeg's and K-FAC's own
     * passes) is summed over the executors' examples.
     *
     * @param spark the backend, or empty for the single-JVM loop
     */
    static RunResult run(LoadedData data, OptimizerSpec spec, RunContext context, Checkpointing checkpoints,
            Listener listener, java.util.Optional<SparkBackend> spark) {
        long seed = context.seed();
        int batch = context.budget().batchSize();
        try (NDManager runManager = data.manager().newSubManager()) {
            Block model = data.task().newModel();
            ModelInit.initialize(model, runManager, LoadedData.DATA_TYPE,
                    data.task().inputShape(batch), context.init(), seed);
            FishLikelihood likelihood = data.task().newLikelihood();
            likelihood.setSeed(seed);
            if (spark.isEmpty()) {
                BatchSource auxData = BatchSources.randomBatches(
                        data.train().inputs(), data.train().targets(), batch, seed ^ AUX_STREAM);
                try (StepRule rule = spec.create(model, likelihood, auxData, seed)) {
                    return new TrainingLoop(data, spec, context, checkpoints, listener, runManager, model,
                            likelihood, rule, data.train(), NllFunction.of(likelihood)).train();
                }
            }
            try (ai.fishleg.spark.SparkObjective objective = spark.get().objective(model, seed)) {
                ai.fishleg.tasks.Task.Split ids = SparkBackend.ids(runManager, objective);
                BatchSource auxData = BatchSources.randomBatches(
                        ids.inputs(), ids.targets(), batch, seed ^ AUX_STREAM);
                try (StepRule rule = spec.create(model, likelihood, objective, objective, auxData, seed)) {
                    RunResult result = new TrainingLoop(data, spec, context, checkpoints, listener,
                            runManager, model, likelihood, rule, ids, objective).train();
                    ai.fishleg.spark.SparkObjective.Traffic t = objective.traffic();
                    System.err.printf("spark: %d jobs, %d payload bytes to the executors, %d from"
                            + " the tasks (%.0f and %.0f per step)%n", t.jobs(), t.bytesToExecutors(),
                            t.bytesFromTasks(), (double) t.bytesToExecutors() / Math.max(1, result.steps() - Math.max(0, result.resumedAtStep())),
                            (double) t.bytesFromTasks() / Math.max(1, result.steps() - Math.max(0, result.resumedAtStep())));
                    return result;
                }
            }
        }
    }

    /** Steps until the budget is spent or the run stops early; then the final checkpoint. */
    private RunResult train() {
        long first = state.step;
        long total = first + budget.totalSteps(examples);
        double secondsBefore = state.seconds;
        shuffle.setState(state.epochShuffleState);
        order = first % perEpoch == 0 ? null : drawOrder();
        listener.started(spec.kind(), first, total);
        RunResult.Stop stopped = null;
        while (state.step < total && stopped == null) {
            if (state.step % perEpoch == 0) {
                state.epochShuffleState = shuffle.getState();
                order = drawOrder();
            }
            double loss = trainStep();
            long step = ++state.step;
            state.lossSum += loss;
            state.lossCount++;
            listener.stepped(step, state.lossSum / state.lossCount);
            rule.afterStep(step, data.test());
            if (divergence != null) {
                stopped = RunResult.Stop.DIVERGED;
            } else if (budget.outOfTime(state.seconds - secondsBefore)) {
                stopped = RunResult.Stop.TIME_LIMIT;
            }
            boolean scheduled = step % evalInterval == 0;
            if (stopped != null || scheduled || step == total) {
                MetricsRow row = evaluate(step, scheduled && stopped != RunResult.Stop.DIVERGED);
                if (stopped == null && budget.reached(row.testLoss())) {
                    stopped = RunResult.Stop.TARGET_REACHED;
                }
            }
            if (stopped == null && checkpoints.periodicSaveAt(step)) {
                save();
                savedAt = step;
            }
        }
        Path saved = null;
        if (checkpoints.save() != null && divergence == null) {
            if (savedAt != state.step) {
                save();
            }
            saved = checkpoints.save();
        }
        List<MetricsRow> rows = new ArrayList<>(state.rows);
        if (endRow != null) {
            rows.add(endRow);
        }
        RunResult result = new RunResult(spec.kind(), rule.hyperparameters(), rule.statistics(),
                List.copyOf(rows), state.step, (double) state.step / perEpoch, state.seconds,
                stopped == RunResult.Stop.DIVERGED ? state.step : -1, divergence,
                checkpoints.resume() == null ? -1 : first, saved, stopped, null);
        listener.finished(result);
        return result;
    }

    /** @return a new order of the training examples (the next epoch's) */
    private int[] drawOrder() {
        return shuffle.sampleWithoutReplacement((int) examples, (int) examples);
    }

    /**
     * One optimizer step on the next batch of the epoch's order; its time is added to the run's
     * training seconds. A non-finite loss, or a non-finite step FishLeg refused, sets {@link #divergence}.
     *
     * @return the batch's training loss
     */
    private double trainStep() {
        int batch = budget.batchSize();
        int from = (int) (state.step % perEpoch) * batch;
        long start = System.nanoTime();
        double loss;
        try (NDManager scope = runManager.newSubManager()) {
            LabeledBatch b = batch(train, order, from, batch, scope);
            rule.zeroGrad();
            try (GradientCollector gc = scope.getEngine().newGradientCollector()) {
                NDArray l = nll.nll(model, b);
                gc.backward(l);
                loss = Tensors.scalar(l);
            }
            if (!Double.isFinite(loss)) {
                divergence = "the training loss is " + loss;
            } else {
                try {
                    rule.step();
                } catch (NonFiniteException e) {
                    // FishLeg refused a non-finite step and left the parameters as they were
                    divergence = e.getMessage();
                }
            }
        }
        state.seconds += (System.nanoTime() - start) * 1e-9;
        return loss;
    }

    /**
     * Evaluates on the test set. A scheduled row is kept in the loop's state (and starts a new
     * training-loss mean); any other is the run's end row.
     *
     * @param step steps completed
     * @param scheduled whether this is an evaluation of the schedule
     * @return the row
     */
    private MetricsRow evaluate(long step, boolean scheduled) {
        Evaluation.Metrics test = Evaluation.evaluate(model, likelihood, data.test(), data.task().isClassifier());
        MetricsRow row = new MetricsRow(spec.kind().label(), (double) step / perEpoch, step, state.seconds,
                state.lossSum / state.lossCount, test.loss(), test.accuracy());
        listener.evaluated(row);
        if (scheduled) {
            state.rows.add(row);
            state.lossSum = 0;
            state.lossCount = 0;
        } else {
            endRow = row;
        }
        return row;
    }

    /** Writes the checkpoint of the run as it is now. */
    private void save() {
        save(rule, checkpoints.save(), state, identity, shuffle, perEpoch);
    }

    /** Restores the optimizer, the model and the loop's state from a checkpoint of this run. */
    private static LoopState resume(StepRule rule, Path file, Map<String, String> identity, String task) {
        Map<String, String> metadata;
        try {
            metadata = rule.load(file);
        } catch (IOException e) {
            throw new IllegalArgumentException("--resume " + file + ": cannot read it (" + e + ")", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--resume " + file + ": cannot continue this run ("
                    + task + ") from it: " + e.getMessage(), e);
        }
        return LoopState.fromMetadata(metadata, identity, file);
    }

    /** Writes the optimizer's, the model's and the loop's state (atomically: see Checkpoint). */
    private static void save(StepRule rule, Path file, LoopState state, Map<String, String> identity,
            Rng shuffle, long perEpoch) {
        // Between epochs the next epoch's order is not drawn yet: the generator's state now is
        // the one that draws it. Inside an epoch, resuming draws the current order again.
        long shuffleState = state.step % perEpoch == 0 ? shuffle.getState() : state.epochShuffleState;
        try {
            rule.save(file, state.toMetadata(identity, shuffleState));
        } catch (IOException e) {
            throw new IllegalArgumentException("--save " + file + ": cannot write the checkpoint (" + e
                    + "); the previous checkpoint there, if any, is left as it was", e);
        }
    }

    /** The training batch at positions [from, from + size) of the epoch's order. */
    private static LabeledBatch batch(
            ai.fishleg.tasks.Task.Split train, int[] order, int from, int size, NDManager scope) {
        long[] idx = new long[size];
        for (int i = 0; i < size; i++) {
            idx[i] = order[from + i];
        }
        NDIndex rows = new NDIndex("{}", scope.create(idx));
        NDArray x = train.inputs().get(rows);
        x.attach(scope);
        if (train.targets() == train.inputs()) {
            return LabeledBatch.of(x, x);
        }
        NDArray y = train.targets().get(rows);
        y.attach(scope);
        return LabeledBatch.of(x, y);
    }
}
