package ai.fishleg.tasks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.util.Tensors;

/** The metrics of a task on a whole split, computed in inference mode without gradients. */
public final class Evaluation {

    /** Examples per forward pass while evaluating. */
    static final int CHUNK = 1000;

    private Evaluation() {}

    /**
     * The metrics of a model on a split.
     *
     * @param loss mean negative log-likelihood per example (nats)
     * @param accuracy fraction of examples whose most likely class is the true one, or NaN for
     *     tasks that are not classifiers
     */
    public record Metrics(double loss, double accuracy) {}

    /**
     * Evaluates the model on every example of a split (inference-mode forward, so BatchNorm uses
     * its running statistics).
     *
     * @param model the network
     * @param likelihood the task's likelihood
     * @param split inputs and targets
     * @param classifier whether to compute the accuracy
     * @return mean loss per example, and accuracy for classifiers
     */
    public static Metrics evaluate(
            Block model, FishLikelihood likelihood, Task.Split split, boolean classifier) {
        long n = split.size();
        double lossSum = 0;
        long correct = 0;
        for (long start = 0; start < n; start += CHUNK) {
            long end = Math.min(n, start + CHUNK);
            try (NDManager scope = split.inputs().getManager().newSubManager()) {
                NDIndex rows = new NDIndex(start + ":" + end);
                NDArray x = split.inputs().get(rows);
                NDArray y = split.targets().get(rows);
                x.attach(scope);
                y.attach(scope);
                NDArray preds = model.forward(new ParameterStore(scope, false), new NDList(x), false)
                        .singletonOrThrow();
                lossSum += Tensors.scalar(likelihood.nll(preds, y)) * (end - start);
                if (classifier) {
                    correct += preds.argMax(1).eq(y.argMax(1)).sum().getLong();
                }
            }
        }
        return new Metrics(lossSum / n, classifier ? (double) correct / n : Double.NaN);
    }
}
