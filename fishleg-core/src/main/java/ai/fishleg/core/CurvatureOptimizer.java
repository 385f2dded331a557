package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What FishLeg4J's curvature-aware optimizers ({@link FishLeg}, {@link ai.fishleg.kfac.Kfac}) share
 * for a training loop: driven as torch.optim ({@link #zeroGrad()}, the user's backward pass,
 * {@link #step()}), the report of each step ({@link StepReport}), the counters of their {@link ParameterStep}, and complete checkpoints.
 */
public interface CurvatureOptimizer extends AutoCloseable {

    /** Sets the gradient of every trainable parameter to zero (DJL accumulates gradients). */
    void zeroGrad();

    /** One step from the gradients of the last backward pass. */
    void step();

    /**
     * @return the model's parameter arrays that {@link #step()} updates from their gradients (the
     *     others are left to the caller), in model order
     */
    List<NDArray> getManagedParameters();

    /** @return the number of completed steps */
    long getStepCount();

    /** @return steps skipped for a non-finite value (policy SKIP) */
    long getSkippedSteps();

    /** @return the trust-region factor ν of the last step (1 when not clipped or klClip off) */
    double getLastClipFactor();

    /** @return the number of steps scaled down by klClip (ν < 1) */
    long getClippedSteps();

    /** @return what the last {@link #step()} did (empty before the first step) */
    Optional<? extends StepReport> lastStep();

    /**
     * @return everything a run of this optimizer changes (the model's parameters and running
     *     statistics included), as {@link #save} writes it and {@link #load} restores it through
     *     it; each optimizer's own (FishLeg's, K-FAC's, Muon's)
     */
    CheckpointState checkpointState();

    /**
     * Saves the complete state of the optimizer and its model ({@link #checkpointState()}) in a
     * {@link Checkpoint}, atomically, with the caller's own entries (for example a data loader's
     * position), which {@link #load} hands back. Resuming from it continues bit for bit as the
     * uninterrupted run would.
     *
     * @param file the checkpoint file
     * @param metadata string entries stored with the state (may be empty)
     * @throws IOException if writing fails; a previous file is then left intact
     */
    default void save(Path file, Map<String, String> metadata) throws IOException {
        Checkpoint.save(checkpointState(), file, metadata);
    }

    /**
     * {@link #save(Path, Map)} without metadata.
     *
     * @param file the checkpoint file
     * @throws IOException if writing fails; a previous file is then left intact
     */
    default void save(Path file) throws IOException {
        save(file, Map.of());
    }

    /**
     * Restores a state written by {@link #save}: the optimizer must manage the same layers and
     * groups of a model of the same shapes; nothing is changed when it does not match.
     *
     * @param file the checkpoint file
     * @return the caller's entries saved with it (empty for {@link #save(Path)})
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if it is not a valid checkpoint of this optimizer and model
     */
    default Map<String, String> load(Path file) throws IOException {
        return Checkpoint.load(checkpointState(), file);
    }

    /** Frees the optimizer's state. */
    @Override
    void close();
}
