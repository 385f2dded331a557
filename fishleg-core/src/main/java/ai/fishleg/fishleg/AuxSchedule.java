package ai.fishleg.fishleg;

/**
 * On which steps the auxiliary updates of λ run, and how many (docs/ALGORITHM.md §11): the typed
 * form of the setting {@code updateAuxEvery} k, whose sign the reference gives a meaning ({@link
 * #of(int)} reads it, in this one place). {@code auxBurst} adds updates after each Kronecker start
 * on top of this schedule.
 */
public sealed interface AuxSchedule {

    /**
     * @param steps the steps completed before this one
     * @return the number of auxiliary updates on this step
     */
    int updatesAt(long steps);

    /**
     * One update on the steps t with t mod k = 0.
     *
     * @param every k >= 1
     */
    record Periodic(int every) implements AuxSchedule {
        /** Checks k. */
        public Periodic {
            if (every < 1) {
                throw new IllegalArgumentException("an auxiliary period must be >= 1, got " + every);
            }
        }

        @Override
        public int updatesAt(long steps) {
            return steps % every == 0 ? 1 : 0;
        }
    }

    /**
     * n updates on every step.
     *
     * @param updates n >= 1
     */
    record EveryStep(int updates) implements AuxSchedule {
        /** Checks n. */
        public EveryStep {
            if (updates < 1) {
                throw new IllegalArgumentException(
                        "auxiliary updates per step must be >= 1, got " + updates);
            }
        }

        @Override
        public int updatesAt(long steps) {
            return updates;
        }
    }

    /** No auxiliary update: Q stays as it started. */
    record Never() implements AuxSchedule {
        @Override
        public int updatesAt(long steps) {
            return 0;
        }
    }

    /**
     * The schedule of the setting {@code updateAuxEvery} k.
     *
     * @param updateAuxEvery k: an update every k steps (k > 0), |k| updates per step (k < 0), none
     *     (0)
     * @return the schedule
     */
    static AuxSchedule of(int updateAuxEvery) {
        if (updateAuxEvery > 0) {
            return new Periodic(updateAuxEvery);
        }
        return updateAuxEvery < 0 ? new EveryStep(-updateAuxEvery) : new Never();
    }
}
