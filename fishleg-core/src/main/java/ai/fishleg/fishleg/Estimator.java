package ai.fishleg.fishleg;

import java.util.Locale;

/**
 * How an auxiliary update estimates the product F·V of the Fisher matrix with V = Q(λ)u (docs/ALGORITHM.md
 * §4 and §7). The auxiliary loss ½Vᵀ(F̂ + γI)V − uᵀV and its gradient are the same for
 * every estimator; only F̂V differs.
 *
 * <p>An exact Hessian- or Gauss-Newton-vector product (the paper's JAX code) is not offered: DJL's
 * engine-independent API has reverse mode only ({@code GradientCollector.backward(target)}, with
 * no cotangent, no retained graph and no graph of the gradient, so no double backward) and no
 * forward-mode Jacobian-vector product, so neither product can be formed exactly through it.
 * {@link #ANTITHETIC} is the central-difference form of the Hessian-vector product.
 */
public enum Estimator {
    /**
     * The seed's rank-one estimate: F̂ = g gᵀ with g the gradient of the nll on one minibatch of
     * sampled labels, so F̂V = ⟨g, V⟩ g. With a batch-mean nll, E[g gᵀ] = F/B, so Q learns
     * (F/B + γI)⁻¹ (docs/ALGORITHM.md §7.1). The default; reproduces the reference number for number.
     */
    RANK1,
    /**
     * The {@code main} reference's antithetic estimate (docs/ALGORITHM.md §7): F̂V = ‖V‖·(g₊ − g₋)/(2ε), where
     * g± are the sampled-label gradients at θ ± ε·V/‖V‖ (labels drawn once, at θ) — a central
     * difference of the gradient along V, i.e. the Hessian of the sampled-label loss times V up to
     * O(ε²), whose expectation is F·V for the mean loss (unbiased; Q learns (F + γI)⁻¹). Costs two
     * forward/backward passes per auxiliary update. ε is {@code antitheticEps}; the perturbation
     * has length ε whatever ‖u‖ is (docs/ALGORITHM.md §17.16 [FIX]: {@code main} divides by ‖V‖‖u‖).
     */
    ANTITHETIC;

    /**
     * @param name {@code "rank1"}, {@code "rank-1"} or {@code "antithetic"} (any case)
     * @return the value
     */
    public static Estimator parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT).replace("-", "").replace("_", "");
        for (Estimator e : values()) {
            if (e.name().replace("_", "").equals(n)) {
                return e;
            }
        }
        throw new IllegalArgumentException(
                "estimator must be one of rank1, antithetic; got '" + name + "'");
    }

    /** The implementation of this estimator. */
    FisherEstimator create(Hyperparameters hp) {
        return switch (this) {
            case RANK1 -> new Rank1Estimator();
            case ANTITHETIC -> new AntitheticEstimator(hp.antitheticEps());
        };
    }
}
