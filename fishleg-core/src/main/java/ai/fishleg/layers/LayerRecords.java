package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import java.util.ArrayList;
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
        return layer instanceof RecordingLinear || layer instanceof RecordingConv2d;
    }

    /**
     * @param layer a recording layer (others are ignored)
     * @param on whether training-mode forward passes are recorded from now on
     */
    public static void setRecording(Block layer, boolean on) {
        if (layer instanceof RecordingLinear r) {
            r.setRecording(on);
        } else if (layer instanceof RecordingConv2d c) {
            c.setRecording(on);
        }
    }

    /**
     * @param layer a block
     * @return whether it is a recording layer that records now
     */
    public static boolean isRecording(Block layer) {
        return layer instanceof RecordingLinear r ? r.isRecording()
                : layer instanceof RecordingConv2d c && c.isRecording();
    }

    /** @param layer a recording layer (others are ignored): forgets its recorded passes */
    public static void clear(Block layer) {
        if (layer instanceof RecordingLinear r) {
            r.clearRecord();
        } else if (layer instanceof RecordingConv2d c) {
            c.clearRecord();
        }
    }

    /**
     * @param layer a recording layer
     * @return its passes since the last clear (empty if none, if too many were recorded, or if the
     *     layer does not record)
     */
    public static List<Pass> passes(Block layer) {
        List<Pass> out = new ArrayList<>();
        if (layer instanceof RecordingLinear r) {
            for (RecordingLinear.Pass p : r.passes()) {
                out.add(new Pass(p.input(), p.probe()));
            }
        } else if (layer instanceof RecordingConv2d c) {
            out.addAll(c.passes());
        }
        return out;
    }
}
