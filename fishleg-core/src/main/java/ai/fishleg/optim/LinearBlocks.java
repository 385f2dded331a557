package ai.fishleg.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.layers.FishLinear;
import ai.fishleg.layers.RecordingLinear;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything the optimizer does that needs the concrete linear block {@link FishLinear}, in one
 * place: batchSpeedup's gradient factors (recorded by {@link RecordingLinear} layers, checked
 * against the gradients, and used for Q(λ)g and the auxiliary tape instead of the formed
 * gradient), and the re-initialisation of linear weights ({@link Initialization}).
 */
final class LinearBlocks implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LinearBlocks.class);

    private final List<BlockState> blocks;

    /**
     * @param blocks the managed blocks
     * @param batchSpeedup start recording in every {@link RecordingLinear} layer
     */
    LinearBlocks(List<BlockState> blocks, boolean batchSpeedup) {
        this.blocks = blocks;
        if (batchSpeedup) {
            for (FishLinear fl : recordingBlocks(false)) {
                fl.setRecording(true);
            }
        }
    }

    /**
     * Re-initialises the weights of a linear block (other blocks are left as they are): N(0,
     * 1/in) for the weight with {@code NORMAL}, zero weight and bias with {@code ZERO}.
     *
     * @param block a newly created block
     * @param init the scheme; {@code UNIFORM} keeps the layer's values
     * @param rng draws the normal values
     * @param manager owns the temporaries
     */
    static void reinitialize(CurvatureBlock block, Initialization init, Rng rng, NDManager manager) {
        if (!(block instanceof FishLinear linear) || init == Initialization.UNIFORM) {
            return;
        }
        List<NDArray> params = block.getParameterArrays();
        NDArray w = params.get(0);
        if (init == Initialization.ZERO) {
            for (NDArray p : params) {
                Tensors.zero(p);
            }
        } else {
            double std = 1.0 / Math.sqrt(linear.getInFeatures());
            double[] z = rng.gaussians(Math.toIntExact(w.size()));
            for (int i = 0; i < z.length; i++) {
                z[i] *= std;
            }
            try (NDArray values = Tensors.create(manager, z, w.getShape(), w.getDataType())) {
                Tensors.assign(w, values);
            }
        }
    }

    /** Forgets what the layers recorded (a new backward pass starts). */
    void clearRecords() {
        for (FishLinear fl : recordingBlocks(false)) {
            fl.clearRecord();
        }
    }

    /** Recording paused for FishLeg's own passes; closing it resumes. */
    interface Paused extends AutoCloseable {
        @Override
        void close();
    }

    /** @return pauses recording until closed */
    Paused pauseRecording() {
        List<FishLinear> paused = recordingBlocks(true);
        for (FishLinear fl : paused) {
            fl.setRecording(false);
        }
        return () -> {
            for (FishLinear fl : paused) {
                fl.setRecording(true);
            }
        };
    }

    /**
     * The recorded factors of each block's current gradient where Qg is cheaper than Qv, checked
     * against the gradients (one read-back for all layers); null elsewhere, and for every layer
     * whose record does not reproduce its gradient (for example when gradients were cleared
     * without {@code zeroGrad()}), so that Q is then applied to the gradient itself.
     *
     * @param grads the current gradient per block
     * @param scope owns the factors
     * @return per block, the factors or null
     */
    FishLinear.GradientFactors[] recordedFactors(NDList[] grads, Scope scope) {
        FishLinear.GradientFactors[] out = new FishLinear.GradientFactors[blocks.size()];
        List<Integer> found = new ArrayList<>();
        NDList mismatches = new NDList();
        for (int gi = 0; gi < blocks.size(); gi++) {
            if (!(blocks.get(gi).block() instanceof FishLinear fl) || !fl.isRecording()) {
                continue;
            }
            FishLinear.GradientFactors f = fl.recordedFactors(scope.manager());
            if (f != null && fl.factorsPayOff(f.rows())) {
                out[gi] = f;
                found.add(gi);
                mismatches.add(fl.factorMismatch(f, grads[gi]));
            }
        }
        if (found.isEmpty()) {
            return out;
        }
        double[] m;
        try (NDArray all = NDArrays.concat(mismatches);
                NDArray d = all.toType(DataType.FLOAT64, false)) {
            m = d.toDoubleArray();
        }
        for (int j = 0; j < found.size(); j++) {
            int gi = found.get(j);
            double tolerance = grads[gi].get(0).getDataType() == DataType.FLOAT64 ? 1e-9 : 1e-3;
            if (!(m[2 * j] <= tolerance * tolerance * m[2 * j + 1])) {
                LOG.debug("layer {}: the recorded passes do not reproduce the gradient; Qv is"
                        + " applied to the gradient", blocks.get(gi).displayName());
                out[gi] = null;
            }
        }
        return out;
    }

    /**
     * Q(λ)v, from the factors of v when there are any (then v is their product).
     *
     * @param block the block
     * @param v the vector
     * @param factors v's factors, or null
     * @param scope owns the temporaries
     * @return Q(λ)v
     */
    static NDList naturalGradient(
            CurvatureBlock block, NDList v, FishLinear.GradientFactors factors, Scope scope) {
        if (factors == null) {
            return block.qv(v);
        }
        factors.use(scope);
        return ((FishLinear) block).qg(factors);
    }

    /**
     * The tape of V = Q(λ)u, from u's factors when u is the stored gradient and has them.
     *
     * @param g the block's state
     * @param u the direction
     * @param storedGradient whether u is the stored gradient (not a Gaussian draw)
     * @param scope owns the temporaries
     * @return the tape
     */
    static CurvatureBlock.Tape auxTape(BlockState g, NDList u, boolean storedGradient, Scope scope) {
        if (g.uFactors() == null || !storedGradient) {
            return g.block().qvTape(u);
        }
        g.uFactors().use(scope);
        return ((FishLinear) g.block()).factoredTape(g.uFactors());
    }

    /** Stops recording and forgets the records. */
    @Override
    public void close() {
        for (FishLinear fl : recordingBlocks(false)) {
            fl.setRecording(false);
            fl.clearRecord();
        }
    }

    /**
     * The managed linear blocks whose layers are {@link RecordingLinear}s.
     *
     * @param recordingOnly only those recording now
     */
    private List<FishLinear> recordingBlocks(boolean recordingOnly) {
        List<FishLinear> out = new ArrayList<>();
        for (BlockState g : blocks) {
            if (g.block() instanceof FishLinear fl && fl.canRecord()
                    && (!recordingOnly || fl.isRecording())) {
                out.add(fl);
            }
        }
        return out;
    }
}
