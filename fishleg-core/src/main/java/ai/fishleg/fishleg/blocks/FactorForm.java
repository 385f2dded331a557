package ai.fishleg.fishleg.blocks;

/**
 * How one tensor X of λ enters Q: what a multiplicative (Lie-group) step on X has to respect
 * (docs/ALGORITHM.md §19).
 */
public enum FactorForm {
    /**
     * A square factor whose column Gram matrix XᵀX is Q's factor (R in M = RᵀR, a convolution's L
     * in N = LᵀL): it moves as X ← (I − εT)X with T upper triangular.
     */
    COLUMN_GRAM,
    /**
     * A square factor whose row Gram matrix XXᵀ is Q's factor (a linear layer's or an embedding's
     * L in N = LLᵀ): it moves as X ← X(I − εT) with T upper triangular.
     */
    ROW_GRAM,
    /**
     * A tensor that scales Q entry by entry (A, a diagonal R, a normalisation layer's or a
     * likelihood's λ): it moves as X ← X ⊙ (1 − εH).
     */
    ENTRYWISE
}
