package ai.fishleg.fishleg.blocks;

/**
 * How the optimizer wants its curvature blocks built.
 *
 * @param rescaling whether the diagonal rescaling A of Kronecker blocks is learned
 * @param form whether Kronecker blocks use the rescaled Q = D_A (M ⊗ N) D_A or, for batchSpeedup,
 *     the plain Q = M ⊗ N that also applies to a gradient in factored form
 */
public record CurvatureOptions(Rescaling rescaling, Form form) {

    /** Whether A is learned. */
    public enum Rescaling {
        /** A is learned with λ's other tensors (the reference's default). */
        LEARNED,
        /** A is frozen at its warm-up value, a pure Kronecker Q (docs/ALGORITHM.md §5.3). */
        FROZEN
    }

    /** The form of a Kronecker block's Q. */
    public enum Form {
        /** Q = D_A (M ⊗ N) D_A. */
        RESCALED,
        /**
         * Q = M ⊗ N without A, the batchSpeedup form (docs/ALGORITHM.md §12): Q applies to a gradient in
         * factored form ({@link FactoredBlock}); the warm-up scale goes into the factors.
         */
        KRONECKER
    }

    /** The reference defaults: A learned, no batch speed-up. */
    public static final CurvatureOptions DEFAULT =
            new CurvatureOptions(Rescaling.LEARNED, Form.RESCALED);

    /** @throws NullPointerException if a part is null */
    public CurvatureOptions {
        java.util.Objects.requireNonNull(rescaling, "rescaling");
        java.util.Objects.requireNonNull(form, "form");
    }

    /** @return whether A is learned */
    public boolean full() {
        return rescaling == Rescaling.LEARNED;
    }

    /** @return whether Kronecker blocks use the batchSpeedup form */
    public boolean batchSpeedup() {
        return form == Form.KRONECKER;
    }

    /**
     * @param rescaling whether A is learned (the optimizer's {@code full} setting)
     * @return these options with that rescaling
     */
    public CurvatureOptions with(Rescaling rescaling) {
        return new CurvatureOptions(rescaling, form);
    }

    /**
     * @param form the form of Q (KRONECKER: the batchSpeedup form)
     * @return these options with that form
     */
    public CurvatureOptions with(Form form) {
        return new CurvatureOptions(rescaling, form);
    }
}
