package ai.fishleg.fishleg.blocks;

/**
 * Floating-point operations of some matrix products (a multiply-add counts as two), twice:
 *
 * @param executed what the products as the block runs them do (for example a triangular factor's
 *     Gram matrix from four half-size products, n³, or from one plain product, 2n³)
 * @param necessary what the same results need at least when the known zeros of triangular factors
 *     (and of the parts a triangular gradient mask removes) are skipped: RᵀR of a triangular R
 *     costs n³/3, the upper triangle of R S for a triangular R and a full S 2n³/3; products
 *     without such structure count as executed
 */
public record FlopCount(double executed, double necessary) {

    /** No products. */
    public static final FlopCount ZERO = new FlopCount(0, 0);

    /**
     * @param flops a count that is both executed and necessary
     * @return the count
     */
    public static FlopCount of(double flops) {
        return new FlopCount(flops, flops);
    }

    /**
     * @param other another count
     * @return the sum
     */
    public FlopCount plus(FlopCount other) {
        return new FlopCount(executed + other.executed, necessary + other.necessary);
    }

    /**
     * @param factor a multiplier
     * @return both counts times it
     */
    public FlopCount times(double factor) {
        return new FlopCount(executed * factor, necessary * factor);
    }
}
