package ai.fishleg.training;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.util.Tensors;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A DJL {@link Loss} that is the negative log-likelihood of a {@link FishLikelihood}: {@code
 * likelihood.nll(predictions, labels)} of the model's single output and the first label array.
 *
 * <p>This is the training loss that FishLeg's natural gradient is meant for: the Fisher matrix that
 * FishLeg inverts is that of the same likelihood. {@link FishLegOptimizer#getLoss()} returns the
 * instance that belongs to an optimizer.
 */
public final class LikelihoodLoss extends Loss {

    /** Name under which DJL's listeners report this loss. */
    public static final String DEFAULT_NAME = "NLL";

    private final FishLikelihood likelihood;
    /** Per accumulator key, the sum of the batch nlls (DJL's own sum is private to Loss). */
    private final Map<String, Double> totalLoss = new ConcurrentHashMap<>();

    /**
     * @param likelihood the likelihood whose nll is the loss
     */
    public LikelihoodLoss(FishLikelihood likelihood) {
        this(DEFAULT_NAME, likelihood);
    }

    /**
     * @param name the name shown by DJL's listeners
     * @param likelihood the likelihood whose nll is the loss
     */
    public LikelihoodLoss(String name, FishLikelihood likelihood) {
        super(name);
        this.likelihood = Objects.requireNonNull(likelihood, "likelihood");
    }

    /**
     * Adds the nll of a batch to the accumulators. DJL's version reads the loss with {@code
     * getFloat()}, but the likelihoods' scalar nll of a float32 model is float64 (a 0-d float32
     * array divided by a Java double promotes); this one reads any floating-point type.
     */
    @Override
    public void updateAccumulators(String[] keys, NDList labels, NDList predictions) {
        double value;
        try (NDArray nll = evaluate(labels, predictions); NDArray sum = nll.sum()) {
            value = Tensors.scalar(sum);
        }
        for (String key : keys) {
            totalInstances.compute(key, (k, v) -> v + 1);
            totalLoss.compute(key, (k, v) -> v + value);
        }
    }

    @Override
    public void addAccumulator(String key) {
        totalInstances.put(key, 0L);
        totalLoss.put(key, 0.0);
    }

    @Override
    public void resetAccumulator(String key) {
        totalInstances.put(key, 0L);
        totalLoss.put(key, 0.0);
    }

    /**
     * @param key an accumulator key
     * @return the mean nll over the batches accumulated under the key, NaN when none
     */
    @Override
    public float getAccumulator(String key) {
        Long count = totalInstances.get(key);
        if (count == null) {
            throw new IllegalArgumentException(
                    "no accumulator '" + key + "' in " + getName() + "; known: "
                            + totalInstances.keySet());
        }
        return count == 0 ? Float.NaN : (float) (totalLoss.get(key) / count);
    }

    /** @return the likelihood */
    public FishLikelihood getLikelihood() {
        return likelihood;
    }

    /**
     * @param labels the targets; the first array is scored
     * @param predictions the model's outputs; there must be exactly one
     * @return the nll, a scalar (mean over the batch), differentiable; in float64 even for a
     *     float32 model with the built-in likelihoods
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        if (predictions.size() != 1) {
            throw new IllegalArgumentException(
                    "LikelihoodLoss scores a model with exactly one output, but the model returned "
                            + predictions.size() + " arrays " + predictions.getShapes()
                            + "; wrap the model so that it returns only the predictions");
        }
        if (labels.isEmpty()) {
            throw new IllegalArgumentException(
                    "LikelihoodLoss needs labels, but the batch has none; build the dataset with"
                            + " labels (e.g. ArrayDataset.Builder.optLabels)");
        }
        return likelihood.nll(predictions.head(), labels.head());
    }
}
