package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.optim.NonFiniteException;
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
 * at the first non-finite training loss, or when FishLeg refuses a non-finite step.
 *
 * <p>With checkpoints (FishLeg only), the optimizer's checkpoint also holds the loop's own state
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

    private TrainingLoop() {}

    /**
     * Trains a fresh network of the task with one optimizer, or continues a checkpointed run.
     *
     * @param data the task's data
     * @param spec the optimizer and its settings
     * @param context the run: budget (epochs or steps, batch size, evaluation interval; when
     *     resuming, how many more steps), initial weights, seed (of the initial weights, the batch
     *     order and the optimizer's sampling)
     * @param checkpoints what to save and what to resume from
     * @param listener progress receiver
     * @return the metrics and summary of the run
     * @throws IllegalArgumentException if the checkpoint to resume from cannot continue this run
     *     (another task, model, data, batch size, seed or optimizer setting), or a checkpoint
     *     cannot be read or written
     */
    static RunResult run(LoadedData data, OptimizerSpec spec, RunContext context, Checkpointing checkpoints,
            Listener listener) {
        Budget budget = context.budget();
        long seed = context.seed();
        long examples = data.train().size();
        long perEpoch = budget.stepsPerEpoch(examples);
        long evalInterval = budget.evalInterval(examples);
        int batch = budget.batchSize();
        try (NDManager runManager = data.manager().newSubManager()) {
            Block model = data.task().newModel();
            ModelInit.initialize(model, runManager, LoadedData.DATA_TYPE,
                    data.task().inputShape(batch), context.init(), seed);
            FishLikelihood likelihood = data.task().newLikelihood();
            likelihood.setSeed(seed);
            NllFunction nll = NllFunction.of(likelihood);
            long diverged = -1;
            String divergence = null;
            MetricsRow endRow = null;
            try (StepRule rule = spec.create(model, likelihood,
                    BatchSources.randomBatches(data.train().inputs(), data.train().targets(), batch,
                            seed ^ AUX_STREAM),
                    seed)) {
                Rng shuffle = new Rng(seed ^ SHUFFLE_STREAM);
                Map<String, String> identity = LoopState.identity(context, spec.kind(), rule.hyperparameters());
                LoopState state = checkpoints.resume() == null
                        ? new LoopState(shuffle.getState())
                        : resume(rule, checkpoints.resume(), identity, context.task().name());
                long first = state.step;
                long total = first + budget.totalSteps(examples);
                shuffle.setState(state.epochShuffleState);
                int[] order = first % perEpoch == 0 ? null
                        : shuffle.sampleWithoutReplacement((int) examples, (int) examples);
                long savedAt = -1;
                listener.started(spec.kind(), first, total);
                while (state.step < total) {
                    if (state.step % perEpoch == 0) {
                        state.epochShuffleState = shuffle.getState();
                        order = shuffle.sampleWithoutReplacement((int) examples, (int) examples);
                    }
                    int from = (int) (state.step % perEpoch) * batch;
                    long start = System.nanoTime();
                    double loss;
                    try (NDManager scope = runManager.newSubManager()) {
                        LabeledBatch b = batch(data.train(), order, from, batch, scope);
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
                    long step = ++state.step;
                    state.lossSum += loss;
                    state.lossCount++;
                    boolean bad = divergence != null;
                    boolean scheduled = step % evalInterval == 0;
                    listener.stepped(step, state.lossSum / state.lossCount);
                    if (bad || scheduled || step == total) {
                        Evaluation.Metrics test = Evaluation.evaluate(
                                model, likelihood, data.test(), data.task().isClassifier());
                        MetricsRow row = new MetricsRow(spec.kind().label(), (double) step / perEpoch,
                                step, state.seconds, state.lossSum / state.lossCount, test.loss(),
                                test.accuracy());
                        listener.evaluated(row);
                        if (scheduled && !bad) {
                            state.rows.add(row);
                            state.lossSum = 0;
                            state.lossCount = 0;
                        } else {
                            endRow = row;
                        }
                    }
                    if (bad) {
                        diverged = step;
                        break;
                    }
                    if (checkpoints.periodicSaveAt(step)) {
                        save(rule, checkpoints.save(), state, identity, shuffle, perEpoch);
                        savedAt = step;
                    }
                }
                Path saved = null;
                if (checkpoints.save() != null && divergence == null) {
                    if (savedAt != state.step) {
                        save(rule, checkpoints.save(), state, identity, shuffle, perEpoch);
                    }
                    saved = checkpoints.save();
                }
                List<MetricsRow> rows = new ArrayList<>(state.rows);
                if (endRow != null) {
                    rows.add(endRow);
                }
                RunResult result = new RunResult(spec.kind(), rule.hyperparameters(), rule.statistics(),
                        List.copyOf(rows), state.step, (double) state.step / perEpoch, state.seconds,
                        diverged, divergence, checkpoints.resume() == null ? -1 : first, saved);
                listener.finished(result);
                return result;
            }
        }
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
