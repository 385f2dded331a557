package ai.fishleg.kfac;

/**
 * Which labels K-FAC's statistics pass differentiates the loss at, and so which matrix the
 * factor G estimates.
 */
public enum FisherLabels {
    /**
     * Labels drawn from the model's predictive distribution ({@code draw}): G estimates the true
     * Fisher's factor. The default, as in the PyTorch K-FAC (alecwangcq/KFAC-Pytorch).
     */
    DRAWN,
    /**
     * The statistics batch's own labels (no draw): G estimates the factor of the empirical Fisher
     * (the mean outer product of the per-example gradients at the observed targets). Not the
     * Fisher; measured as a lever on the Fashion-MNIST auto-encoder (docs/RESULTS.md, issue 20).
     * Only one pass per example: {@code fisherSamples} must be 1.
     */
    OBSERVED
}
