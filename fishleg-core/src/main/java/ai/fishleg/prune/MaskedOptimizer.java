package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.CurvatureOptimizer;
import ai.fishleg.core.StepReport;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An optimizer whose steps keep the pruned weights at zero: after each step of the wrapped
 * optimizer (FishLeg, K-FAC) the masks are applied again. Closing it closes neither the optimizer
 * nor the masks.
 */
public final class MaskedOptimizer implements CurvatureOptimizer {

    private final CurvatureOptimizer optimizer;
    private final Masks masks;

    /**
     * @param optimizer the optimizer that fine-tunes the pruned model
     * @param masks the masks of the pruned layers
     */
    public MaskedOptimizer(CurvatureOptimizer optimizer, Masks masks) {
        this.optimizer = optimizer;
        this.masks = masks;
    }

    @Override
    public void zeroGrad() {
        optimizer.zeroGrad();
    }

    /** The wrapped optimizer's step, then the masks. */
    @Override
    public void step() {
        optimizer.step();
        masks.apply();
    }

    @Override
    public List<NDArray> getManagedParameters() {
        return optimizer.getManagedParameters();
    }

    @Override
    public long getStepCount() {
        return optimizer.getStepCount();
    }

    @Override
    public long getSkippedSteps() {
        return optimizer.getSkippedSteps();
    }

    @Override
    public double getLastClipFactor() {
        return optimizer.getLastClipFactor();
    }

    @Override
    public long getClippedSteps() {
        return optimizer.getClippedSteps();
    }

    @Override
    public Optional<? extends StepReport> lastStep() {
        return optimizer.lastStep();
    }

    @Override
    public CheckpointState checkpointState() {
        return optimizer.checkpointState();
    }

    /** Loads the wrapped optimizer's checkpoint, then applies the masks. */
    @Override
    public Map<String, String> load(Path file) throws IOException {
        Map<String, String> metadata = optimizer.load(file);
        masks.apply();
        return metadata;
    }

    @Override
    public void close() {
        // the optimizer and the masks belong to the caller
    }
}
