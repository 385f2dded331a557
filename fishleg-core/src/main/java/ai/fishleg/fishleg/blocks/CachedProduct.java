package ai.fishleg.fishleg.blocks;

/**
 * The products a block caches from its λ in its {@link AuxState} (kept until λ changes). Only the
 * Kronecker blocks cache products at present.
 */
enum CachedProduct {
    /** M = RᵀR, or the vector R² when the out factor is diagonal. */
    M,
    /** N = LLᵀ or LᵀL, k x k (a view of the padded N, or the padded N itself without padding). */
    N_VIEW,
    /** N padded with zero rows and columns to the padded width. */
    N,
    /** L padded with zeros to the padded width. */
    PADDED_L,
    /** A padded with zero columns to the padded width. */
    PADDED_A
}
