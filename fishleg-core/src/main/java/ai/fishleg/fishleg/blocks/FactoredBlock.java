package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.util.Scope;

/**
 * A curvature block that can work on a minibatch gradient in factored form, U = Goutᵀ Â (the
 * layer's output gradients and inputs; see docs/ALGORITHM.md), without forming U: FishLeg's
 * batchSpeedup. The layer records its passes; the optimizer reads the factors back, checks them
 * against the gradient and applies Q, or runs the auxiliary tape, on the factors where that costs
 * less.
 *
 * <p>Implemented by {@link FishLinear}; only a layer that records its passes ({@link
 * RecordingLinear}) {@linkplain #canRecord() can} hand out factors.
 */
public interface FactoredBlock {

    /** @return whether the layer records its passes (batchSpeedup can factor U) */
    boolean canRecord();

    /** Records the layer's training passes from now on (no-op unless {@link #canRecord()}). */
    void startRecording();

    /** Records no more of the layer's training passes (no-op unless {@link #canRecord()}). */
    void stopRecording();

    /** @return whether the layer is recording */
    boolean isRecording();

    /** Forgets the passes recorded so far (no-op unless {@link #canRecord()}). */
    void clearRecord();

    /**
     * The factors of the gradient accumulated since the record was last cleared.
     *
     * @param target where the factors go
     * @return the factors, or null when nothing (usable) was recorded
     */
    GradientFactors recordedFactors(NDManager target);

    /**
     * The rows n of the factors {@link #recordedFactors} would return, without forming them (so
     * that {@link #factorsPayOff} can be asked first).
     *
     * @return the recorded rows (batch times sequence over the recorded passes), 0 when nothing
     *     was recorded
     */
    long recordedRows();

    /**
     * @param rows n, the rows of a gradient's factors
     * @return whether the factored products do less arithmetic than the plain ones
     */
    boolean factorsPayOff(long rows);

    /**
     * How far factors are from reproducing a gradient (see {@link FishLinear#factorMismatch}).
     *
     * @param f the factors
     * @param gradient the layer's gradient, in block order
     * @return a 2-element array [‖U r − Goutᵀ Â r‖², ‖U r‖²] for a fixed random r
     */
    NDArray factorMismatch(GradientFactors f, NDList gradient);

    /**
     * @param f the factors of U
     * @return Q U, in the factors' manager
     */
    NDList qg(GradientFactors f);

    /**
     * @param f the factors of U
     * @return the tape of V = Q(λ)U, its vector-Jacobian product computed on the factors
     */
    CurvatureBlock.Tape factoredTape(GradientFactors f);

    /**
     * The factors of a layer's minibatch gradient U = Goutᵀ Â (docs/ALGORITHM.md §12): Â = [inputs | 1] padded
     * with zero columns to the block's working width, and Gout, one row per recorded example
     * (batch times sequence).
     */
    final class GradientFactors implements AutoCloseable {
        final NDArray inputs;
        final NDArray outputGradients;

        GradientFactors(NDArray inputs, NDArray outputGradients) {
            this.inputs = inputs;
            this.outputGradients = outputGradients;
        }

        /** @return n, the number of rows */
        public long rows() {
            return inputs.getShape().get(0);
        }

        /** @param scope temporarily owns the factors (they return to their manager with it) */
        public void use(Scope scope) {
            scope.use(inputs);
            scope.use(outputGradients);
        }

        /** @param manager the factors' new owner */
        public void attach(NDManager manager) {
            inputs.attach(manager);
            outputGradients.attach(manager);
        }

        /**
         * @param manager owner of the copy
         * @return a copy of the factors
         */
        public GradientFactors copy(NDManager manager) {
            GradientFactors c =
                    new GradientFactors(inputs.duplicate(), outputGradients.duplicate());
            c.attach(manager);
            return c;
        }

        @Override
        public void close() {
            inputs.close();
            outputGradients.close();
        }
    }
}
