package ai.fishleg.cli;

import java.io.IOException;
import java.nio.file.Path;
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

    /**
     * Called after every step, outside the timed part (FishLeg's quality probe; nothing by default).
     *
     * @param step steps completed
     * @param heldOut the test set
     */
    default void afterStep(long step, ai.fishleg.tasks.Task.Split heldOut) {}

    /** @return counts the optimizer keeps, for summary.json (none by default) */
    default Map<String, Object> statistics() {
        return Map.of();
    }

    /**
     * Writes the complete state of the optimizer and the model, atomically.
     *
     * @param file the checkpoint (replaced)
     * @param metadata the training loop's own state and the run's settings
     * @throws IOException if it cannot be written (the previous file is then left intact)
     * @throws UnsupportedOperationException if this optimizer's state cannot be saved
     */
    default void save(Path file, Map<String, String> metadata) throws IOException {
        throw new UnsupportedOperationException(CHECKPOINTS_FISHLEG_ONLY);
    }

    /**
     * Restores a state written by {@link #save}.
     *
     * @param file the checkpoint
     * @return the metadata saved with it
     * @throws IOException if it cannot be read
     * @throws IllegalArgumentException if it is corrupt or of another model (nothing is changed)
     * @throws UnsupportedOperationException if this optimizer's state cannot be restored
     */
    default Map<String, String> load(Path file) throws IOException {
        throw new UnsupportedOperationException(CHECKPOINTS_FISHLEG_ONLY);
    }

    /** Why Adam and SGD runs cannot be checkpointed. */
    String CHECKPOINTS_FISHLEG_ONLY = "--save and --resume work with --optimizer fishleg, kfac or muon only:"
            + " DJL's Adam and SGD keep their moments and step counts in private fields that no API"
            + " reads or sets, so a resumed Adam or SGD run could not continue exactly. Train without"
            + " --save and --resume, or use FishLeg, K-FAC or Muon.";

    /** Frees the optimizer's state. */
    @Override
    void close();
}
