package ai.fishleg.curvature;

/** Whether a layer has a bias (a column of U beside the weight; see docs/ALGORITHM.md). */
public enum Bias {
    /** The layer adds a bias: U = [W | b]. */
    WITH,
    /** No bias: U = W. */
    WITHOUT;

    /**
     * @param present whether there is a bias
     * @return the matching constant
     */
    public static Bias of(boolean present) {
        return present ? WITH : WITHOUT;
    }

    /** @return whether there is a bias */
    public boolean present() {
        return this == WITH;
    }
}
