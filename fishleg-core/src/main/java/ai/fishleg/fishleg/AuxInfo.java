package ai.fishleg.fishleg;

/**
 * What one auxiliary update computed (the reference returns these as a tuple). With u the
 * direction (the stored gradient, or a Gaussian draw), V = Q(λ)u, F̂V the estimator's Fisher
 * product ({@link Estimator}; for the default RANK1, F̂V = ⟨g,V⟩g with g the sampled-label
 * gradient) and γ the damping:
 *
 * @param auxLoss the auxiliary loss ½(γ⟨V,V⟩ + ⟨V,F̂V⟩) − ⟨u,V⟩, divided by {@code g2} with
 *     normalization
 * @param check ⟨u, (F̂ + γI)V⟩ − ‖u‖² = uᵀ[(F̂ + γI)Q − I]u, 0 when Q inverts the damped
 *     estimated Fisher along u (divided by {@code g2} with normalization); a diagnostic
 * @param linearTerm ⟨u, V⟩ = uᵀQu (never normalised)
 * @param quadTerm ⟨V, F̂V⟩, which is ⟨g,V⟩² for RANK1 (never normalised)
 * @param regTerm γ⟨V, V⟩ (never normalised)
 * @param g2 ‖u‖²
 */
public record AuxInfo(
        double auxLoss,
        double check,
        double linearTerm,
        double quadTerm,
        double regTerm,
        double g2) {}
