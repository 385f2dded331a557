package ai.fishleg.cli;

import java.util.Map;

/**
 * One optimizer inside the training loop: clears the gradients before the backward pass and
 * updates the parameters from them afterwards. The loop itself (data, forward, backward, metrics)
 * is the same for every optimizer, see {@link TrainingLoop}.
 */
interface StepRule extends AutoCloseable {

    /** Sets the gradients of every trainable parameter to zero. */
    void zeroGrad();

    /** Updates the parameters from the gradients of the last backward pass. */
    void step();

    /** @return the settings in force, for summary.json (name → number, flag or text) */
    Map<String, Object> hyperparameters();

    /** Frees the optimizer's state. */
    @Override
    void close();
}
