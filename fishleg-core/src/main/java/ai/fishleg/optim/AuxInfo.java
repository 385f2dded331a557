package ai.fishleg.optim;

/**
 * What one auxiliary update computed (the reference returns these as a tuple). With u the stored
 * gradient, g the sampled-label gradient, V = Q(λ)u and γ the damping:
 *
 * @param auxLoss the auxiliary loss ½(γ⟨V,V⟩ + ⟨g,V⟩²) − ⟨u,V⟩, divided by {@code g2} with
 *     normalization
 * @param check uᵀ[(ggᵀ + γI)Q − I]u, 0 when Q inverts the damped rank-one Fisher along u (divided
 *     by {@code g2} with normalization); a diagnostic
 * @param linearTerm ⟨u, V⟩ = uᵀQu (never normalised)
 * @param quadTerm ⟨g, V⟩² (never normalised)
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
