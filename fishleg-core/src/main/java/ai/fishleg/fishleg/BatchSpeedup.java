package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.FactoredBlock;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * batchSpeedup in one place: the gradient factors recorded by {@link RecordingLinear} layers of
 * {@link FactoredBlock}s, checked against the gradients, and used for Q(λ)g and the auxiliary tape
 * instead of the formed gradient.
 */
final class BatchSpeedup implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BatchSpeedup.class);

    private final List<BlockState> blocks;
    private final RunStatistics stats;

    /**
     * @param blocks the managed blocks
     * @param batchSpeedup start recording in every {@link RecordingLinear} layer
     * @param stats counts the blocks whose natural gradient came from factors
     */
    BatchSpeedup(List<BlockState> blocks, boolean batchSpeedup, RunStatistics stats) {
        this.blocks = blocks;
        this.stats = stats;
        if (batchSpeedup) {
            for (FactoredBlock fl : recordingBlocks(false)) {
                fl.startRecording();
            }
        }
    }

    /** Forgets what the layers recorded (a new backward pass starts). */
    void clearRecords() {
        for (FactoredBlock fl : recordingBlocks(false)) {
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
        List<FactoredBlock> paused = recordingBlocks(true);
        for (FactoredBlock fl : paused) {
            fl.stopRecording();
        }
        return () -> {
            for (FactoredBlock fl : paused) {
                fl.startRecording();
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
    FactoredBlock.GradientFactors[] recordedFactors(NDList[] grads, Scope scope) {
        FactoredBlock.GradientFactors[] out = new FactoredBlock.GradientFactors[blocks.size()];
        List<Integer> found = new ArrayList<>();
        NDList mismatches = new NDList();
        for (int gi = 0; gi < blocks.size(); gi++) {
            if (!(blocks.get(gi).block() instanceof FactoredBlock fl) || !fl.isRecording()) {
                continue;
            }
            long rows = fl.recordedRows();
            if (rows == 0 || !fl.factorsPayOff(rows)) {
                continue; // Qv on the gradient: the factors are not formed
            }
            FactoredBlock.GradientFactors f = fl.recordedFactors(scope.manager());
            if (f != null) {
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
     * The natural gradient n = Q(λ)v of every block: v = u after an auxiliary update (or the
     * product V = Q(λ)u that update kept, when λ did not move), else the current gradient; from
     * v's recorded factors where there are any (then v is their product).
     *
     * @param grads the current gradients, or null after an auxiliary update
     * @param factors the current gradients' factors (entries null where none)
     * @param reusable V per block kept by the auxiliary update, or null
     * @param scope owns the results
     * @return n per block
     */
    NDList[] naturalGradients(NDList[] grads, FactoredBlock.GradientFactors[] factors,
            List<NDList> reusable, Scope scope) {
        NDList[] naturals = new NDList[blocks.size()];
        int factored = 0;
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            scope.use(g.u());
            if (reusable != null) {
                naturals[gi] = reusable.get(gi);
                continue;
            }
            FactoredBlock.GradientFactors f = grads == null ? g.uFactors() : factors[gi];
            NDList v = grads == null ? g.u() : grads[gi];
            if (f == null) {
                naturals[gi] = g.block().qv(v);
            } else {
                f.use(scope);
                naturals[gi] = ((FactoredBlock) g.block()).qg(f);
                factored++;
            }
        }
        stats.setLastFactoredBlocks(factored);
        return naturals;
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
        return ((FactoredBlock) g.block()).factoredTape(g.uFactors());
    }

    /** Stops recording and forgets the records. */
    @Override
    public void close() {
        for (FactoredBlock fl : recordingBlocks(false)) {
            fl.stopRecording();
            fl.clearRecord();
        }
    }

    /**
     * The managed linear blocks whose layers are {@link RecordingLinear}s.
     *
     * @param recordingOnly only those recording now
     */
    private List<FactoredBlock> recordingBlocks(boolean recordingOnly) {
        List<FactoredBlock> out = new ArrayList<>();
        for (BlockState g : blocks) {
            if (g.block() instanceof FactoredBlock fl && fl.canRecord()
                    && (!recordingOnly || fl.isRecording())) {
                out.add(fl);
            }
        }
        return out;
    }
}
