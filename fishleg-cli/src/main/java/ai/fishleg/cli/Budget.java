package ai.fishleg.cli;

/**
 * How long a run trains and how often it is evaluated.
 *
 * @param epochs number of passes over the training set (used when {@code steps} is 0)
 * @param steps number of optimizer steps, or 0 to train for {@code epochs}
 * @param batchSize examples per step
 * @param evalEvery evaluate every this many steps, or 0 for once per epoch (always also at the end)
 */
record Budget(int epochs, long steps, int batchSize, long evalEvery) {

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
