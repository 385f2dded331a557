package ai.fishleg.spark;

/** What the executors compute on their share of a batch in one job. */
enum Pass {
    /** loss and gradient sums with the examples' own labels */
    GIVEN_LABELS,
    /** loss and gradient sums with labels drawn from the model at the draw's parameters */
    SAMPLED_LABELS,
    /** K-FAC's factor sums of the sampled-label pass */
    KRONECKER
}
