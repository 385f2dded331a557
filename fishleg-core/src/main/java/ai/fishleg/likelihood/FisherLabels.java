package ai.fishleg.likelihood;

/**
 * Which labels a curvature pass differentiates the loss at, and so which matrix it estimates:
 * K-FAC's statistics pass (its factor G) and FishLeg's auxiliary updates (F̂V).
 */
public enum FisherLabels {
    /**
     * Labels drawn from the model's predictive distribution ({@link DrawFunction}): the true
     * Fisher. The default of both optimizers, as in the PyTorch K-FAC (alecwangcq/KFAC-Pytorch)
     * and the FishLeg reference.
     */
    DRAWN,
    /**
     * The batch's own labels (no draw): the empirical Fisher (the mean outer product of the
     * per-example gradients at the observed targets). Not the Fisher; measured as a lever of
     * K-FAC on the Fashion-MNIST auto-encoder (docs/RESULTS.md, issue 20), where only one pass
     * per example is allowed ({@code fisherSamples} 1).
     */
    OBSERVED
}
