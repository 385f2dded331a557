package ai.fishleg.prune;

/** Over which weights a {@link Pruner} ranks saliencies to reach a sparsity. */
public enum SparsityScope {
    /** Every layer pruned to the same sparsity (its own least salient weights). */
    PER_LAYER,
    /** One ranking over all layers' weights: layers end at different sparsities. */
    GLOBAL
}
