package ai.fishleg.fishleg;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.data.BatchSource;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.kfac.KroneckerEstimate;
import ai.fishleg.fishleg.blocks.TriangularRoots;
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
 * kroneckerStart} batches of the auxiliary data with labels drawn from the model (or the batches'
 * own, {@code kroneckerLabels}), optionally blended with the identity ({@code
 * kroneckerIdentityStart}), and γ FishLeg's damping: once when the optimizer is built, and again
 * after every {@code kroneckerEvery} steps when that is > 0. Between these, the auxiliary loss
 * refines Q. Every other block keeps the start the warm-up gave it (Q0 = s·I) and is only
 * learned.
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
    /** Layers set with a jitter or kept, over the run. */
    private long unusualStarts;

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
            set(0);
        }
    }

    /**
     * @param steps steps completed: sets Q again when {@code kroneckerEvery} divides it
     * @return whether Q was set again (a renewal)
     */
    boolean afterStep(long steps) {
        if (hp.kroneckerStart() > 0 && hp.kroneckerEvery() > 0 && steps % hp.kroneckerEvery() == 0) {
            set(steps);
            return true;
        }
        return false;
    }

    /**
     * K-FAC's damped inverse factors at the current parameters, from some batches with labels
     * drawn from the model and no identity share (the damped inverse of the Fisher's Kronecker
     * approximation, whatever the start's own options).
     *
     * @param source one batch per statistics pass
     * @param batches the number of passes
     * @param target owns the results
     * @return the inverses by layer name
     */
    Map<String, Inverses> inverses(
            BatchSource source, int batches, NDManager target) {
        return inverses(source, batches, FisherLabels.DRAWN, 0, target);
    }

    /**
     * The identity's share of the factors of a start made after {@code steps} steps: decay^(1 +
     * ⌊steps/every⌋), that of K-FAC's running averages started at I when it takes that step
     * (0 when the option is off).
     */
    private double identityShare(long steps) {
        double decay = hp.kroneckerIdentityDecay();
        return decay == 0 ? 0 : Math.pow(decay, 1 + steps / hp.kroneckerIdentityEvery());
    }

    private Map<String, Inverses> inverses(BatchSource source, int batches, FisherLabels labels,
            double identityShare, NDManager target) {
        try (BatchSpeedup.Paused paused = speedup.pauseRecording()) {
            return KroneckerEstimate.dampedInverses(model, draw, nll, source, batches,
                    hp.damping(), hp.moduleNames(), hp.skipNames(), labels, identityShare, target);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("kroneckerStart = " + batches
                    + " could not estimate K-FAC's factors: " + e.getMessage(), e);
        }
    }

    /** Says once per run that a damped inverse did not factorise as it was. */
    private void unusual(TriangularRoots.Outcome outcome, String layer) {
        unusualStarts++;
        if (unusualStarts == 1) {
            LOG.warn("Kronecker start: K-FAC's damped inverse of {} is not numerically positive"
                    + " definite; {} (further such cases are not logged)", layer,
                    outcome == TriangularRoots.Outcome.KEPT
                            ? "the layer kept its previous Q" : "it was set with a small jitter");
        }
    }

    /** Sets Q from a new estimate, made after {@code steps} steps (0: the first start). */
    private void set(long steps) {
        try (NDManager scope = manager.newSubManager()) {
            Map<String, Inverses> estimates = inverses(data, hp.kroneckerStart(),
                    hp.kroneckerLabels(), identityShare(steps), scope);
            List<String> started = new ArrayList<>();
            List<String> kept = new ArrayList<>();
            for (BlockState g : blocks) {
                String name = g.block().getName();
                Inverses inv = estimates.get(name);
                if (inv != null && g.block() instanceof KroneckerBlock kb) {
                    TriangularRoots.Outcome outcome = kb.kroneckerStart(inv.output(), inv.input());
                    if (outcome != TriangularRoots.Outcome.SET) {
                        unusual(outcome, LayerSelection.displayName(name));
                    }
                    (outcome == TriangularRoots.Outcome.KEPT ? kept : started)
                            .add(LayerSelection.displayName(name));
                } else if (g.owner() == BlockState.Owner.LAYER) {
                    kept.add(LayerSelection.displayName(name));
                }
            }
            if (steps == 0) {
                LOG.info("Kronecker start from {} batches{}{}: Q0 = K-FAC's damped inverse for {}{}",
                        hp.kroneckerStart(),
                        hp.kroneckerLabels() == FisherLabels.DRAWN ? "" : ", observed labels",
                        hp.kroneckerIdentityDecay() == 0 ? ""
                                : String.format(java.util.Locale.ROOT, ", identity share %.3g",
                                        identityShare(0)),
                        started, kept.isEmpty() ? "" : "; Q0 from the warm-up for " + kept);
            }
        }
    }
}
