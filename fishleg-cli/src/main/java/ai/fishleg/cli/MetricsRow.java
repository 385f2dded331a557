package ai.fishleg.cli;

/**
 * One line of metrics.csv: the state of a run after some steps.
 *
 * @param optimizer the optimizer's name
 * @param epoch training epochs completed (steps / steps per epoch; fractional between epochs)
 * @param step optimizer steps completed
 * @param seconds wall-clock training time so far (evaluation excluded)
 * @param trainLoss mean training-batch loss over the steps since the previous row
 * @param testLoss mean loss per example on the whole test set
 * @param accuracy test accuracy for classifiers, NaN otherwise
 */
record MetricsRow(
        String optimizer,
        double epoch,
        long step,
        double seconds,
        double trainLoss,
        double testLoss,
        double accuracy) {}
