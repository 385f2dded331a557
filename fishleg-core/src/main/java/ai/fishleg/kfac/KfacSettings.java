package ai.fishleg.kfac;

import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.likelihood.FisherLabels;
import java.util.List;

/**
 * The settings of a {@link Kfac} run, as {@link Kfac.Builder} (its setters in {@link
 * KfacSettingsBuilder}) checked them.
 *
 * @param lr learning rate η
 * @param damping γ
 * @param statDecay weight of the old factors in the moving averages
 * @param covEvery a statistics update every this many steps
 * @param invEvery an inversion every this many steps
 * @param klClip κ of the trust region (0: off)
 * @param momentum β
 * @param weightDecay weight decay per step (an L2 term in the HEAVY_BALL form, decoupled in
 *     the AVERAGE form)
 * @param momentumForm how the momentum accumulates the natural gradient
 * @param factorInit what the factors' moving averages start from
 * @param dampingForm how the curvature is damped before it is inverted
 * @param fisherSamples labels drawn per example of a statistics batch
 * @param fisherLabels the labels of the statistics pass: drawn (true Fisher) or observed
 * @param nonFinitePolicy what a step does on a non-finite value
 * @param moduleNames layers to consider (empty: all), as for FishLeg
 * @param skipNames layers to leave to momentum SGD, as for FishLeg
 */
public record KfacSettings(
        double lr,
        double damping,
        double statDecay,
        int covEvery,
        int invEvery,
        double klClip,
        double momentum,
        double weightDecay,
        ParameterStep.Momentum momentumForm,
        FactorInit factorInit,
        DampingForm dampingForm,
        int fisherSamples,
        FisherLabels fisherLabels,
        NonFinitePolicy nonFinitePolicy,
        List<String> moduleNames,
        List<String> skipNames) {}
