package ai.fishleg.tasks;

import ai.fishleg.optim.FishLeg;

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
 */
public record FishLegSettings(
        double fishLr,
        double damping,
        double auxLr,
        int updateAuxEvery,
        double scale,
        double beta,
        double weightDecay,
        boolean normalization) {

    /**
     * @param builder a FishLeg builder
     * @return the same builder with these settings
     */
    public FishLeg.Builder configure(FishLeg.Builder builder) {
        return builder.fishLr(fishLr)
                .damping(damping)
                .auxLr(auxLr)
                .updateAuxEvery(updateAuxEvery)
                .scale(scale)
                .beta(beta)
                .weightDecay(weightDecay)
                .normalization(normalization);
    }
}
