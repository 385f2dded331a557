package ai.fishleg.fishleg;

/**
 * On which steps the auxiliary updates run, and how many (docs/ALGORITHM.md §11): with k =
 * updateAuxEvery, one update on the steps with t mod k = 0 (k > 0), |k| on every step (k < 0),
 * none (k = 0); and with auxBurst b > 0, at least one on each of the first b steps after every
 * Kronecker start, while Q is fresh from K-FAC.
 */
final class AuxSchedule {

    private AuxSchedule() {}

    /**
     * @param hp the settings
     * @param steps the steps completed before this one
     * @return the number of auxiliary updates on this step
     */
    static int updates(Hyperparameters hp, long steps) {
        int k = hp.updateAuxEvery();
        int regular = k < 0 ? -k : k > 0 && steps % k == 0 ? 1 : 0;
        if (regular == 0 && hp.auxBurst() > 0 && hp.kroneckerStart() > 0) {
            long sinceStart = hp.kroneckerEvery() > 0 ? steps % hp.kroneckerEvery() : steps;
            return sinceStart < hp.auxBurst() ? 1 : 0;
        }
        return regular;
    }
}
