package ai.fishleg.layers;

/**
 * How the optimizer wants its curvature blocks built.
 *
 * @param full whether the diagonal rescaling A of Kronecker blocks is learned ({@code false}: A is
 *     frozen at its warm-up value, a pure Kronecker Q; SPEC 10.2)
 * @param batchSpeedup whether Kronecker blocks use the {@code Qg} form without A (SPEC section 9):
 *     A is then unused and the warm-up scale goes into the Kronecker factors
 */
public record CurvatureOptions(boolean full, boolean batchSpeedup) {

    /** The reference defaults: A learned, no batch speed-up. */
    public static final CurvatureOptions DEFAULT = new CurvatureOptions(true, false);
}
