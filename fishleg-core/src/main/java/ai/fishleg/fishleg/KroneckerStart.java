package ai.fishleg.fishleg;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.kfac.KroneckerEstimate;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Kronecker start (docs/ALGORITHM.md §18): λ of every Kronecker block whose layer records its
 * inputs and output gradients (RecordingLinear, RecordingConv2d) is set so that Q equals K-FAC's
 * damped inverse, Q = (G + √γ/π I)⁻¹ ⊗ (A + π√γ I)⁻¹, with A and G averaged over {@code
 * kroneckerStart} batches of the auxiliary data with labels drawn from the model, and γ FishLeg's
 * damping: once when the optimizer is built, and again after every {@code kroneckerEvery} steps
 * when that is > 0. Between these, the auxiliary loss refines Q. Every other block keeps the start
 * the warm-up gave it (Q0 = s·I) and is only learned.
 */
final class KroneckerStart {

    private static final Logger LOG = LoggerFactory.getLogger(FishLeg.class);

    private final Hyperparameters hp;
    private final List<BlockState> blocks;
    private final Block model;
    private final DrawFunction draw;
    private final NllFunction nll;
    private final BatchSource data;
    private final BatchSpeedup speedup;
    private final NDManager manager;

    /**
     * @param hp the settings (kroneckerStart batches, kroneckerEvery, damping, layer selection)
     * @param blocks the managed blocks
     * @param model the network
     * @param draw samples labels from the model
     * @param nll the loss, a mean over the batch
     * @param data the auxiliary data, one batch per statistics pass
     * @param speedup whose recording is paused during the statistics passes
     * @param manager the optimizer's manager
     */
    KroneckerStart(Hyperparameters hp, List<BlockState> blocks, Block model, DrawFunction draw,
            NllFunction nll, BatchSource data, BatchSpeedup speedup, NDManager manager) {
        this.hp = hp;
        this.blocks = blocks;
        this.model = model;
        this.draw = draw;
        this.nll = nll;
        this.data = data;
        this.speedup = speedup;
        this.manager = manager;
    }

    /** Sets Q to K-FAC's damped inverse now, if the Kronecker start is on. */
    void start() {
        if (hp.kroneckerStart() > 0) {
            set(true);
        }
    }

    /** @param steps steps completed: sets Q again when {@code kroneckerEvery} divides it */
    void afterStep(long steps) {
        if (hp.kroneckerStart() > 0 && hp.kroneckerEvery() > 0 && steps % hp.kroneckerEvery() == 0) {
            set(false);
        }
    }

    private void set(boolean first) {
        try (NDManager scope = manager.newSubManager();
                BatchSpeedup.Paused paused = speedup.pauseRecording()) {
            Map<String, Inverses> estimates;
            try {
                estimates = KroneckerEstimate.dampedInverses(model, draw, nll, data,
                        hp.kroneckerStart(), hp.damping(), hp.moduleNames(), hp.skipNames(),
                        scope);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("kroneckerStart = " + hp.kroneckerStart()
                        + " could not estimate K-FAC's factors: " + e.getMessage(), e);
            }
            List<String> started = new ArrayList<>();
            List<String> kept = new ArrayList<>();
            for (BlockState g : blocks) {
                String name = g.block().getName();
                Inverses inv = estimates.get(name);
                if (inv != null && g.block() instanceof KroneckerBlock kb) {
                    kb.kroneckerStart(inv.output(), inv.input());
                    started.add(LayerSelection.displayName(name));
                } else if (g.block().getLayer() != null) {
                    kept.add(LayerSelection.displayName(name));
                }
            }
            if (first) {
                LOG.info("Kronecker start from {} batches: Q0 = K-FAC's damped inverse for {}{}",
                        hp.kroneckerStart(), started,
                        kept.isEmpty() ? "" : "; Q0 from the warm-up for " + kept);
            }
        }
    }
}
