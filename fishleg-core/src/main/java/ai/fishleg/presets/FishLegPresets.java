package ai.fishleg.presets;

import ai.fishleg.core.ParameterStep;
import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.fishleg.Hyperparameters;

/**
 * FishLeg's settings that win on the clock in docs/RESULTS.md, the ones every task of the command
 * line starts from (docs/PRESETS.md), for {@link FishLeg.Builder#settings(Hyperparameters)}:
 *
 * <pre>{@code
 * FishLeg opt = FishLeg.builder(model, draw, nll, auxData)
 *         .settings(FishLegPresets.kroneckerStart(3e-3, 0.03)).build();
 * }</pre>
 *
 * The model's linear and convolution layers should be {@code RecordingLinear} / {@code
 * RecordingConv2d}: the Kronecker start and batchSpeedup read their recorded inputs and output
 * gradients. {@link TaskPreset} holds each task's fishLr and damping.
 */
public final class FishLegPresets {

    private FishLegPresets() {}

    /**
     * The Kronecker start (docs/ALGORITHM.md §18): Q starts at K-FAC's damped inverse estimated from
     * 3 batches and is set there again every 100 steps; the normalised auxiliary loss with the
     * antithetic estimator refines Q in between (auxLr 2e-4, an update every 30 steps); K-FAC's
     * heavy-ball step (§9.5, β 0.9, weight decay 1e-5) with the trust region klClip 0.01, and
     * batchSpeedup. Every other setting keeps the library's default.
     *
     * @param fishLr the step size η (about K-FAC's lr for the network)
     * @param damping γ (about K-FAC's damping for the network)
     * @return the settings
     */
    public static Hyperparameters kroneckerStart(double fishLr, double damping) {
        return Hyperparameters.builder().normalization(true).estimator(Estimator.ANTITHETIC)
                .kroneckerStart(3).kroneckerEvery(100)
                .momentumForm(ParameterStep.Momentum.HEAVY_BALL)
                .fishLr(fishLr).damping(damping).klClip(0.01).auxLr(2e-4).updateAuxEvery(30)
                .batchSpeedup(true).build();
    }
}
