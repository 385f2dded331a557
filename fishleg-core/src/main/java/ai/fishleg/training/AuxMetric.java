package ai.fishleg.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.evaluator.Evaluator;
import ai.djl.training.listener.EvaluatorTrainingListener;
import ai.fishleg.fishleg.AuxInfo;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToDoubleFunction;

/**
 * A DJL {@link Evaluator} that reports one quantity of FishLeg's auxiliary updates (auxiliary
 * loss, check or ‖u‖², see {@link AuxInfo}), so that DJL's {@link EvaluatorTrainingListener}
 * records it in the trainer's metrics and the logging listener prints it next to the loss and accuracy.
 *
 * <p>Its values do not come from labels and predictions but from the {@link FishLegOptimizer} that
 * created it: every auxiliary update inside a training step is recorded once (the last one when a
 * step runs several). A training accumulator ({@code train/epoch}, {@code train/progress}, {@code
 * train/all}) holds the mean over the auxiliary updates recorded since it was reset: the epoch
 * value is the mean over the epoch's auxiliary updates, the {@code train/all} value the latest
 * update. Auxiliary updates happen during {@code trainer.step()}, after the listeners saw the
 * batch, so records are held back and folded into every training accumulator the next time one of
 * them is updated or read. Validation accumulators (keys starting with {@code "validate"}) stay
 * empty (NaN, which the logging listener leaves out), and so does an epoch without auxiliary
 * updates.
 */
public final class AuxMetric extends Evaluator {

    private final ToDoubleFunction<AuxInfo> quantity;
    /** Per accumulator key: {sum, count}. */
    private final Map<String, double[]> accumulators = new ConcurrentHashMap<>();
    private double pendingSum;
    private long pendingCount;
    private double latest = Double.NaN;

    AuxMetric(String name, ToDoubleFunction<AuxInfo> quantity) {
        super(name);
        this.quantity = quantity;
    }

    /** Records one auxiliary update (called by the optimizer during the training step). */
    synchronized void record(AuxInfo info) {
        double v = quantity.applyAsDouble(info);
        pendingSum += v;
        pendingCount++;
        latest = v;
    }

    /** @return the value of the latest recorded auxiliary update (NaN before the first) */
    public synchronized double getLatest() {
        return latest;
    }

    /**
     * @param labels ignored
     * @param predictions only their manager is used
     * @return the latest value, as a scalar in the predictions' manager
     */
    @Override
    public synchronized NDArray evaluate(NDList labels, NDList predictions) {
        return predictions.head().getManager().create((float) latest);
    }

    @Override
    public synchronized void addAccumulator(String key) {
        accumulators.put(key, new double[2]);
    }

    @Override
    public void updateAccumulator(String key, NDList labels, NDList predictions) {
        updateAccumulators(new String[] {key}, labels, predictions);
    }

    @Override
    public synchronized void updateAccumulators(
            String[] keys, NDList labels, NDList predictions) {
        for (String key : keys) {
            if (isTraining(key)) {
                flushPending();
                return;
            }
        }
    }

    @Override
    public synchronized void resetAccumulator(String key) {
        double[] acc = accumulators.get(key);
        if (acc != null) {
            acc[0] = 0;
            acc[1] = 0;
        }
    }

    /**
     * @param key an accumulator key
     * @return the mean over the auxiliary updates accumulated under the key, NaN when none
     */
    @Override
    public synchronized float getAccumulator(String key) {
        double[] acc = accumulators.get(key);
        if (acc == null) {
            throw new IllegalArgumentException(
                    "no accumulator '" + key + "' in " + getName() + "; known: "
                            + accumulators.keySet());
        }
        if (isTraining(key)) {
            flushPending();
        }
        return acc[1] == 0 ? Float.NaN : (float) (acc[0] / acc[1]);
    }

    /** Adds the held-back records to every training accumulator. */
    private void flushPending() {
        if (pendingCount == 0) {
            return;
        }
        for (Map.Entry<String, double[]> e : accumulators.entrySet()) {
            if (isTraining(e.getKey())) {
                e.getValue()[0] += pendingSum;
                e.getValue()[1] += pendingCount;
            }
        }
        pendingSum = 0;
        pendingCount = 0;
    }

    private static boolean isTraining(String key) {
        return !key.startsWith("validate");
    }
}
