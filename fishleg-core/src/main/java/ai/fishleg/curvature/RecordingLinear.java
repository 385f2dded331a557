package ai.fishleg.curvature;

import ai.djl.ndarray.NDList;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A DJL {@link Linear} that FishLeg's {@code batchSpeedup} can see into (docs/ALGORITHM.md §12): while recording,
 * each training-mode forward pass keeps the layer's input and adds to its output a zero array
 * that requires a gradient, so that after the backward pass that array's gradient is the gradient
 * of the loss with respect to the output. From these the minibatch gradient U = Goutᵀ [x | 1] of
 * the weight and bias is known in factored form, and FishLeg applies Q to it as (RᵀR Goutᵀ)([x |
 * 1] LLᵀ) instead of RᵀR U LLᵀ: a fraction of the arithmetic when the batch is smaller than the
 * layer (the reference's forward and backward hooks; DJL has no hooks, hence this layer).
 *
 * <p>Build networks with {@code RecordingLinear.builder()} where they would use {@code
 * Linear.builder()}. Nothing changes unless a FishLeg optimizer with {@code batchSpeedup}
 * manages the layer: it switches recording on, pauses it during its own passes, and clears the
 * record after each step (and in {@code zeroGrad}). A record that does not reproduce the layer's
 * gradient (for example because gradients were cleared in another way) is detected, and FishLeg
 * then uses the gradient itself.
 */
public class RecordingLinear extends Linear {

    private final ForwardRecorder recorder = new ForwardRecorder();

    /** @param builder the settings */
    protected RecordingLinear(Builder builder) {
        super(builder);
    }

    /** @return a builder, as {@link Linear#builder()} */
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

    /** Builds a {@link RecordingLinear}. */
    public static final class Builder extends Linear.Builder {

        /** Creates a builder. */
        Builder() {}

        @Override
        public Builder setUnits(long units) {
            super.setUnits(units);
            return this;
        }

        @Override
        public Builder optBias(boolean bias) {
            super.optBias(bias);
            return this;
        }

        @Override
        public RecordingLinear build() {
            if (units <= 0) {
                throw new IllegalArgumentException(
                        "RecordingLinear needs units > 0 (setUnits); got " + units);
            }
            return new RecordingLinear(this);
        }
    }
}
