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
import java.util.ArrayList;
import java.util.List;

/**
 * The training loop shared by {@code train}, {@code compare} and {@code demo}: every optimizer
 * sees the same initial weights, the same batches in the same order and the same evaluation.
 *
 * <p>Per step: {@code zeroGrad()}; forward and backward of the task's negative log-likelihood on
 * one batch inside a {@link GradientCollector}; {@code step()}. Every array of a step lives in a
 * sub-manager closed at the end of the step, so memory stays flat over long runs. The training
 * set is reshuffled at the start of each epoch (incomplete last batches are dropped). A run stops
 * at the first non-finite training loss, or when FishLeg refuses a non-finite step.
 */
final class TrainingLoop {

    /** Receives progress as the run goes. */
    interface Listener {
        /**
         * @param optimizer the optimizer about to train
         * @param totalSteps steps the run will take
         */
        default void started(OptimizerKind optimizer, long totalSteps) {}

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
     * Trains a fresh network of the task with one optimizer.
     *
     * @param data the task's data
     * @param spec the optimizer and its settings
     * @param budget epochs or steps, batch size, evaluation interval
     * @param init how the initial weights are drawn
     * @param seed seeds the initial weights, the batch order and the optimizer's sampling
     * @param listener progress receiver
     * @return the metrics and summary of the run
     */
    static RunResult run(LoadedData data, OptimizerSpec spec, Budget budget, ModelInit.Scheme init,
            long seed, Listener listener) {
        long examples = data.train().size();
        long perEpoch = budget.stepsPerEpoch(examples);
        long total = budget.totalSteps(examples);
        long evalInterval = budget.evalInterval(examples);
        int batch = budget.batchSize();
        try (NDManager runManager = data.manager().newSubManager()) {
            Block model = data.task().newModel();
            ModelInit.initialize(model, runManager, LoadedData.DATA_TYPE,
                    data.task().inputShape(batch), init, seed);
            FishLikelihood likelihood = data.task().newLikelihood();
            likelihood.setSeed(seed);
            NllFunction nll = NllFunction.of(likelihood);
            List<MetricsRow> rows = new ArrayList<>();
            long diverged = -1;
            String divergence = null;
            double seconds = 0;
            long step = 0;
            try (StepRule rule = spec.create(model, likelihood,
                    BatchSources.randomBatches(data.train().inputs(), data.train().targets(), batch,
                            seed ^ AUX_STREAM),
                    seed)) {
                listener.started(spec.kind(), total);
                Rng shuffle = new Rng(seed ^ SHUFFLE_STREAM);
                int[] order = null;
                double lossSum = 0;
                long lossCount = 0;
                while (step < total) {
                    if (step % perEpoch == 0) {
                        order = shuffle.sampleWithoutReplacement((int) examples, (int) examples);
                    }
                    int from = (int) (step % perEpoch) * batch;
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
                    seconds += (System.nanoTime() - start) * 1e-9;
                    step++;
                    lossSum += loss;
                    lossCount++;
                    boolean bad = divergence != null;
                    listener.stepped(step, lossSum / lossCount);
                    if (bad || step % evalInterval == 0 || step == total) {
                        Evaluation.Metrics test = Evaluation.evaluate(
                                model, likelihood, data.test(), data.task().isClassifier());
                        MetricsRow row = new MetricsRow(spec.kind().label(), (double) step / perEpoch,
                                step, seconds, lossSum / lossCount, test.loss(), test.accuracy());
                        rows.add(row);
                        listener.evaluated(row);
                        lossSum = 0;
                        lossCount = 0;
                    }
                    if (bad) {
                        diverged = step;
                        break;
                    }
                }
                RunResult result = new RunResult(spec.kind(), rule.hyperparameters(), List.copyOf(rows),
                        step, (double) step / perEpoch, seconds, diverged, divergence);
                listener.finished(result);
                return result;
            }
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
