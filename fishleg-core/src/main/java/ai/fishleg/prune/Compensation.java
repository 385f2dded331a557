package ai.fishleg.prune;

/** How a {@link Pruner} moves the remaining weights when it removes some (Optimal Brain Surgeon). */
public enum Compensation {
    /** None: the removed weights are set to zero, the others stay (Optimal Brain Damage). */
    NONE,
    /**
     * Each removed weight q moves the others by −F⁻¹e_q w_q / [F⁻¹]_qq, the moves summed (one
     * product with F⁻¹ for all of them; their interactions are ignored).
     */
    INDEPENDENT,
    /**
     * The removed weights of one output row together, exactly: δw = −F⁻¹E_J ([F⁻¹]_JJ)⁻¹ w_J with J
     * every pruned weight of the row (earlier ones included, so they stay at zero); rows are solved
     * apart (the coupling of rows through F⁻¹ is ignored there, kept in the final product). One
     * |J| x |J| inverse per row.
     */
    ROW_EXACT
}
