package ai.fishleg.curvature;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import java.util.List;

/**
 * What recording layers ({@link RecordingLinear}, {@link RecordingConv2d}) saw in their training
 * passes, for optimizers outside this package (K-FAC): each pass's input and the zero "probe"
 * added to its output, whose gradient after a backward pass is the gradient of the loss with
 * respect to the layer's output. Recording is off until an optimizer switches it on.
 */
public final class LayerRecords {

    private LayerRecords() {}

    /**
     * One recorded training pass.
     *
     * @param input the layer's input
     * @param probe the zero array added to the output; after a backward pass its gradient is
     *     dLoss/dOutput
     */
    public record Pass(NDArray input, NDArray probe) {}

    /**
     * @param layer a block
     * @return whether it can record its passes
     */
    public static boolean canRecord(Block layer) {
        return recorder(layer) != null;
    }

    /**
     * Records every training-mode forward pass from now on.
     *
     * @param layer a recording layer (others are ignored)
     */
    public static void startRecording(Block layer) {
        startRecording(layer, Long.MAX_VALUE);
    }

    /**
     * Records the training-mode forward passes that are small enough from now on: a pass of
     * {@code rowLimit} rows or more (input elements over the input's last dimension) adds no
     * probe and keeps nothing; its rows are counted ({@link #skippedRows}).
     *
     * @param layer a recording layer (others are ignored)
     * @param rowLimit the row count from which a pass is only counted
     */
    public static void startRecording(Block layer, long rowLimit) {
        ForwardRecorder r = recorder(layer);
        if (r != null) {
            r.startRecording(rowLimit);
        }
    }

    /**
     * Records no more passes (those recorded so far are kept until {@link #clear}).
     *
     * @param layer a recording layer (others are ignored)
     */
    public static void stopRecording(Block layer) {
        ForwardRecorder r = recorder(layer);
        if (r != null) {
            r.stopRecording();
        }
    }

    /**
     * @param layer a block
     * @return the rows of the passes it counted without recording them since the last clear (0
     *     if it does not record)
     */
    public static long skippedRows(Block layer) {
        ForwardRecorder r = recorder(layer);
        return r == null ? 0 : r.skippedRows();
    }

    /**
     * @param layer a block
     * @return whether it is a recording layer that records now
     */
    public static boolean isRecording(Block layer) {
        ForwardRecorder r = recorder(layer);
        return r != null && r.isRecording();
    }

    /** @param layer a recording layer (others are ignored): forgets its recorded passes */
    public static void clear(Block layer) {
        ForwardRecorder r = recorder(layer);
        if (r != null) {
            r.clear();
        }
    }

    /**
     * @param layer a recording layer
     * @return its passes since the last clear (empty if none, if too many were recorded, or if the
     *     layer does not record)
     */
    public static List<Pass> passes(Block layer) {
        ForwardRecorder r = recorder(layer);
        return r == null ? List.of() : r.passes();
    }

    /** @return the layer's recorder, or null if it does not record */
    static ForwardRecorder recorder(Block layer) {
        if (layer instanceof RecordingLinear r) {
            return r.recorder();
        }
        return layer instanceof RecordingConv2d c ? c.recorder() : null;
    }
}
