package ai.fishleg.curvature;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * What a recording layer ({@link RecordingLinear}, {@link RecordingConv2d}) keeps of its training
 * passes, in one place: while recording is on, each training-mode forward pass keeps the layer's
 * input and adds to its output a zero "probe" that requires a gradient, so that after the
 * backward pass the probe's gradient is dLoss/dOutput.
 */
final class ForwardRecorder {

    /** Beyond this many recorded passes without a clear the record is dropped (no step follows). */
    static final int MAX_PASSES = 64;

    private final List<LayerRecords.Pass> passes = new ArrayList<>();
    private boolean recording;
    private boolean overflowed;
    /** Passes of at least this many rows are counted, not recorded. */
    private long rowLimit = Long.MAX_VALUE;
    /** Rows of the passes counted but not recorded since the last clear. */
    private long skippedRows;

    /**
     * @param input the layer's input
     * @param out the layer's output
     * @param training whether this is a training-mode pass
     * @return the output, with the probe added when the pass is recorded
     */
    NDList record(NDArray input, NDList out, boolean training) {
        if (!recording || !training) {
            return out;
        }
        long rows = input.size() / Math.max(1, input.getShape().tail());
        if (rows >= rowLimit) {
            skippedRows += rows;
            return out;
        }
        if (passes.size() >= MAX_PASSES) {
            passes.clear();
            overflowed = true;
        }
        NDArray y = out.singletonOrThrow();
        NDArray probe = y.zerosLike();
        probe.setRequiresGradient(true);
        passes.add(new LayerRecords.Pass(input, probe));
        return new NDList(y.add(probe));
    }

    /**
     * Records the training-mode forward passes from now on.
     *
     * @param rowLimit passes of at least this many rows (input elements over the input's last
     *     dimension) are only counted ({@link #skippedRows}); Long.MAX_VALUE records every pass
     */
    void startRecording(long rowLimit) {
        this.recording = true;
        this.rowLimit = rowLimit;
    }

    /** Records no more passes. */
    void stopRecording() {
        this.recording = false;
    }

    /** @return the rows of the passes counted but not recorded since the last clear */
    long skippedRows() {
        return skippedRows;
    }

    /** @return whether forward passes are being recorded */
    boolean isRecording() {
        return recording;
    }

    /** Forgets every recorded pass. */
    void clear() {
        passes.clear();
        overflowed = false;
        skippedRows = 0;
    }

    /** @return the passes recorded since the last clear, or empty if too many were */
    List<LayerRecords.Pass> passes() {
        return overflowed ? List.of() : Collections.unmodifiableList(passes);
    }
}
