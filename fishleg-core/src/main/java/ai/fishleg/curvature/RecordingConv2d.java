package ai.fishleg.curvature;

import ai.djl.ndarray.NDList;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A DJL {@link Conv2d} whose training passes an optimizer can see into, as {@link
 * RecordingLinear} for fully connected layers: while recording, each training-mode forward pass
 * keeps the layer's input and adds to its output a zero array that requires a gradient, whose
 * gradient after the backward pass is the gradient of the loss with respect to the output. K-FAC
 * needs both for the Kronecker factors of the layer (see {@link LayerRecords}).
 *
 * <p>Build networks with {@code RecordingConv2d.builder()} where they would use {@code
 * Conv2d.builder()}. Nothing changes until an optimizer switches recording on.
 */
public class RecordingConv2d extends Conv2d {

    private final ForwardRecorder recorder = new ForwardRecorder();

    /** @param builder the settings */
    protected RecordingConv2d(Builder builder) {
        super(builder);
    }

    /** @return a builder, as {@link Conv2d#builder()} */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore,
            NDList inputs,
            boolean training,
            PairList<String, Object> params) {
        NDList out = super.forwardInternal(parameterStore, inputs, training, params);
        return recorder.record(inputs.head(), out, training);
    }

    /** @return what this layer keeps of its training passes */
    ForwardRecorder recorder() {
        return recorder;
    }

    /** Builds a {@link RecordingConv2d}; every setting as in {@link Conv2d.Builder}. */
    public static final class Builder extends Conv2d.Builder {

        Builder() {}

        @Override
        public RecordingConv2d build() {
            validate();
            return new RecordingConv2d(this);
        }
    }
}
