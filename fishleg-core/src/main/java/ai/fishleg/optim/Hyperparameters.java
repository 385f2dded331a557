package ai.fishleg.optim;

import java.util.List;

/**
 * The numeric and boolean settings of a {@link FishLeg} optimizer, with the seed's defaults (see
 * {@link FishLeg.Builder} for what each one means). Immutable; validated on construction.
 *
 * @param fishLr η, step size of the parameters (seed default 0.05)
 * @param damping γ, Tikhonov damping of the Fisher (0.5)
 * @param weightDecay decoupled decay per step (1e-5), see {@link FishLeg#step()}
 * @param beta momentum of the natural gradient (0.9)
 * @param updateAuxEvery k > 0: one auxiliary update every k steps; k < 0: |k| per step; 0: never
 *     (10)
 * @param auxLr learning rate of the auxiliary Adam (1e-4)
 * @param auxBeta1 first Adam beta (0.9)
 * @param auxBeta2 second Adam beta (0.999)
 * @param auxEps Adam epsilon (1e-8)
 * @param numSteps if positive, the auxiliary learning rate decays linearly to 0 over this many
 *     auxiliary updates; 0 means no decay (the seed's {@code None})
 * @param batchSpeedup use the Qg form for linear layers (false)
 * @param full learn the diagonal rescaling A (true)
 * @param normalization divide the auxiliary loss by ‖u‖² (false)
 * @param fineTune weight decay pulls towards the initial parameters θ0 (false)
 * @param moduleNames which layers to manage (empty: all)
 * @param skipNames layers whose name contains one of these are not managed
 * @param strictModuleNames every module name entry must select something
 * @param initialization re-initialisation of managed linear weights
 * @param scale initial scale s of Q (1.0)
 * @param warmup number of examples for the diagonal warm-up (0: Q0 = s·I)
 * @param seed seed of the optimizer's own random generator (normal initialisation)
 * @param verbose log every managed layer at INFO level
 * @param klClip κ of the trust-region clip of each step (0: off, the reference's behaviour)
 * @param nonFinitePolicy what a step does on a non-finite value (THROW)
 * @param estimator how auxiliary updates estimate the Fisher-vector product (RANK1)
 * @param antitheticEps perturbation length of the {@link Estimator#ANTITHETIC} estimator (1e-4)
 * @param preconditionAux precondition the auxiliary gradient by Q(λ) (false)
 * @param uSampling the direction u that Q is trained along (GRADIENT)
 */
public record Hyperparameters(
        double fishLr,
        double damping,
        double weightDecay,
        double beta,
        int updateAuxEvery,
        double auxLr,
        double auxBeta1,
        double auxBeta2,
        double auxEps,
        long numSteps,
        boolean batchSpeedup,
        boolean full,
        boolean normalization,
        boolean fineTune,
        List<String> moduleNames,
        List<String> skipNames,
        boolean strictModuleNames,
        Initialization initialization,
        double scale,
        int warmup,
        long seed,
        boolean verbose,
        double klClip,
        NonFinitePolicy nonFinitePolicy,
        Estimator estimator,
        double antitheticEps,
        boolean preconditionAux,
        USampling uSampling) {

    /** The seed's defaults. */
    public static final Hyperparameters DEFAULTS =
            new Hyperparameters(
                    0.05, 0.5, 1e-5, 0.9, 10, 1e-4, 0.9, 0.999, 1e-8, 0, false, true, false, false,
                    List.of(), List.of(), false, Initialization.UNIFORM, 1.0, 0, 0L, false, 0,
                    NonFinitePolicy.THROW, Estimator.RANK1, 1e-4, false, USampling.GRADIENT);

    /** Validates every setting; the message names the setting, its value and the allowed range. */
    public Hyperparameters {
        nonNegative("fishLr", fishLr);
        nonNegative("damping", damping);
        nonNegative("weightDecay", weightDecay);
        unitInterval("beta", beta);
        nonNegative("auxLr", auxLr);
        unitInterval("auxBetas[0]", auxBeta1);
        unitInterval("auxBetas[1]", auxBeta2);
        nonNegative("auxEps", auxEps);
        if (numSteps < 0) {
            throw new IllegalArgumentException(
                    "numSteps must be positive (or 0 for no decay), got " + numSteps);
        }
        if (!(scale > 0) || Double.isInfinite(scale)) {
            throw new IllegalArgumentException(
                    "scale must be a finite number > 0, got " + scale);
        }
        if (warmup < 0) {
            throw new IllegalArgumentException(
                    "warmup must be >= 0 (a number of examples), got " + warmup);
        }
        if (warmup > 0 && damping == 0) {
            throw new IllegalArgumentException(
                    "warmup > 0 needs damping > 0 (Q0 = scale²/(g² + damping) would be infinite"
                            + " where a gradient is 0)");
        }
        nonNegative("klClip", klClip);
        if (nonFinitePolicy == null) {
            throw new IllegalArgumentException("nonFinitePolicy must not be null");
        }
        if (initialization == null) {
            throw new IllegalArgumentException("initialization must not be null");
        }
        if (estimator == null) {
            throw new IllegalArgumentException(
                    "estimator must not be null (one of " + List.of(Estimator.values()) + ")");
        }
        if (uSampling == null) {
            throw new IllegalArgumentException(
                    "uSampling must not be null (one of " + List.of(USampling.values()) + ")");
        }
        if (!(antitheticEps > 0) || Double.isInfinite(antitheticEps)) {
            throw new IllegalArgumentException(
                    "antitheticEps must be a finite number > 0 (the length of the parameter"
                            + " perturbation, typically 1e-4), got " + antitheticEps);
        }
        moduleNames = List.copyOf(moduleNames);
        skipNames = List.copyOf(skipNames);
        for (String m : moduleNames) {
            if (m.contains("weight")) {
                throw new IllegalArgumentException(
                        "moduleNames entry '" + m + "' names a parameter: FishLeg manages whole"
                                + " layers, so give the layer's name (without 'weight')");
            }
        }
    }

    private static void nonNegative(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(
                    name + " must be a finite number >= 0, got " + value);
        }
    }

    private static void unitInterval(String name, double value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(name + " must be in [0, 1), got " + value);
        }
    }
}
