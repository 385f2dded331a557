package ai.fishleg.tasks;

import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.optim.Estimator;
import ai.fishleg.optim.FishLeg;
import ai.fishleg.optim.USampling;

/**
 * The FishLeg settings a task preset fixes and the command line can change (the others keep the
 * library's defaults). See {@link FishLeg.Builder} for what each one means.
 *
 * @param fishLr step size η of the parameters
 * @param damping damping γ of the Fisher
 * @param auxLr learning rate of the auxiliary Adam that learns Q
 * @param updateAuxEvery an auxiliary update every this many steps (negative: |k| per step)
 * @param scale initial scale s of Q (Q0 = s·I)
 * @param beta momentum of the natural gradient
 * @param weightDecay decoupled weight decay per step
 * @param normalization divide the auxiliary loss by ‖u‖²
 * @param warmup number of training examples whose squared gradients set the initial diagonal
 *     of Q, diag(Q0) = s²/(g² + γ) (0: Q0 = s·I)
 * @param estimator how the auxiliary loss estimates F·V
 * @param preconditionAux precondition the auxiliary gradient with Q
 * @param uSampling the direction Q learns along
 * @param klClip trust-region bound κ of each step (0: off)
 */
public record FishLegSettings(
        double fishLr,
        double damping,
        double auxLr,
        int updateAuxEvery,
        double scale,
        double beta,
        double weightDecay,
        boolean normalization,
        int warmup,
        Estimator estimator,
        boolean preconditionAux,
        USampling uSampling,
        double klClip) {

    /**
     * @param builder a FishLeg builder
     * @param warmupData training batches for the warm-up (used when warmup > 0)
     * @param warmupLoss the training loss (used when warmup > 0)
     * @return the same builder with these settings
     */
    public FishLeg.Builder configure(
            FishLeg.Builder builder, BatchSource warmupData, NllFunction warmupLoss) {
        if (warmup > 0) {
            builder.warmup(warmup).warmupData(warmupData).warmupLoss(warmupLoss);
        }
        return builder.fishLr(fishLr)
                .damping(damping)
                .auxLr(auxLr)
                .updateAuxEvery(updateAuxEvery)
                .scale(scale)
                .beta(beta)
                .weightDecay(weightDecay)
                .normalization(normalization)
                .estimator(estimator)
                .preconditionAux(preconditionAux)
                .uSampling(uSampling)
                .klClip(klClip);
    }
}
