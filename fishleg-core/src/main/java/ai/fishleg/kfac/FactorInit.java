package ai.fishleg.kfac;

/**
 * What K-FAC's moving averages of the factors A and G start from, before the first statistics
 * update m ← statDecay·m + (1 − statDecay)·estimate.
 */
public enum FactorInit {
    /**
     * The first update takes the estimate itself (no averaging with a start value); the default,
     * and FishLeg4J's behaviour before the option existed.
     */
    FIRST_ESTIMATE,
    /**
     * The averages start at the identity, as in the PyTorch K-FAC (alecwangcq/KFAC-Pytorch): the
     * first update gives statDecay·I + (1 − statDecay)·estimate. The identity's share after u
     * updates is statDecay^u (0.95: 0.60 after 10 updates, 0.36 after 20), an extra damping that
     * fades over the first few hundred steps.
     */
    IDENTITY
}
