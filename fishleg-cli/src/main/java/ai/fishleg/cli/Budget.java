package ai.fishleg.cli;

/**
 * How long a run trains and how often it is evaluated.
 *
 * @param epochs number of passes over the training set (used when {@code steps} is 0)
 * @param steps number of optimizer steps, or 0 to train for {@code epochs}
 * @param batchSize examples per step
 * @param evalEvery evaluate every this many steps, or 0 for once per epoch (always also at the end)
 * @param timeLimit stop after this many seconds of training (evaluation excluded), or 0 for no limit
 * @param stopAtLoss stop at the first evaluation whose test loss is at or below this, or NaN to
 *     train the whole budget
 */
record Budget(int epochs, long steps, int batchSize, long evalEvery, double timeLimit, double stopAtLoss) {

    Budget {
        if (batchSize <= 0) {
            throw new IllegalArgumentException("--batch-size must be positive, got " + batchSize);
        }
        if (steps < 0 || (steps == 0 && epochs <= 0)) {
            throw new IllegalArgumentException(steps < 0
                    ? "--steps must be positive, got " + steps
                    : "--epochs must be positive, got " + epochs);
        }
        if (evalEvery < 0) {
            throw new IllegalArgumentException("--eval-every must be positive, got " + evalEvery);
        }
        if (!(timeLimit >= 0) || Double.isInfinite(timeLimit)) {
            throw new IllegalArgumentException(
                    "--time-limit must be a positive number of seconds, got " + timeLimit);
        }
        if (Double.isInfinite(stopAtLoss)) {
            throw new IllegalArgumentException("--target-loss must be a finite number, got " + stopAtLoss);
        }
    }

    /** A budget of epochs or steps only: no time limit, no stop at a target loss. */
    Budget(int epochs, long steps, int batchSize, long evalEvery) {
        this(epochs, steps, batchSize, evalEvery, 0, Double.NaN);
    }

    /**
     * @param seconds training seconds spent by this invocation of the run
     * @return whether the time limit is reached
     */
    boolean outOfTime(double seconds) {
        return timeLimit > 0 && seconds >= timeLimit;
    }

    /**
     * @param testLoss the test loss of an evaluation
     * @return whether the run stops there, having reached its target
     */
    boolean reached(double testLoss) {
        return testLoss <= stopAtLoss; // false for NaN on either side
    }

    /**
     * @param examples number of training examples
     * @return optimizer steps per epoch (incomplete last batches are dropped)
     */
    long stepsPerEpoch(long examples) {
        if (examples < batchSize) {
            throw new IllegalArgumentException("--batch-size " + batchSize + " is larger than the "
                    + examples + " training examples; use a smaller batch or more data");
        }
        return examples / batchSize;
    }

    /**
     * @param examples number of training examples
     * @return the total number of steps of the run
     */
    long totalSteps(long examples) {
        return steps > 0 ? steps : epochs * stepsPerEpoch(examples);
    }

    /**
     * @param examples number of training examples
     * @return steps between evaluations
     */
    long evalInterval(long examples) {
        return evalEvery > 0 ? evalEvery : stepsPerEpoch(examples);
    }
}
