package ai.fishleg.prune;

/**
 * The sparsities a gradual pruning passes through: the cubic schedule of Zhu and Gupta (2017),
 * s_t = s (1 − (1 − t/K)³) after step t = 1..K; one step is one-shot pruning.
 *
 * @param sparsity the final sparsity s, in [0, 1)
 * @param steps K >= 1
 */
public record PruningSchedule(double sparsity, int steps) {

    /** @throws IllegalArgumentException if the sparsity is outside [0, 1) or steps < 1 */
    public PruningSchedule {
        Pruner.checkSparsity(sparsity);
        if (steps < 1) {
            throw new IllegalArgumentException("a pruning schedule needs at least 1 step, got " + steps);
        }
    }

    /**
     * @param sparsity the sparsity
     * @return one step to it
     */
    public static PruningSchedule oneShot(double sparsity) {
        return new PruningSchedule(sparsity, 1);
    }

    /**
     * @param step t in 1..K
     * @return the sparsity after step t
     */
    public double sparsityAt(int step) {
        if (step < 1 || step > steps) {
            throw new IllegalArgumentException("step " + step + " is outside 1.." + steps);
        }
        double left = 1 - (double) step / steps;
        return sparsity * (1 - left * left * left);
    }
}
