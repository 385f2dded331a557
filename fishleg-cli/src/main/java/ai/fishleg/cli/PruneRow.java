package ai.fishleg.cli;

import ai.fishleg.tasks.Evaluation;

/**
 * One pruned network of {@code fishleg prune}, evaluated on the test set.
 *
 * @param method fishleg, kfac, magnitude (or dense: the network before pruning)
 * @param sparsity the sparsity asked for
 * @param measuredSparsity the fraction of the pruned layers' weights that are zero
 * @param mode one-shot, gradual (or dense)
 * @param fineTuned whether masked fine-tuning followed
 * @param test the test loss and accuracy
 */
record PruneRow(String method, double sparsity, double measuredSparsity, String mode, boolean fineTuned,
        Evaluation.Metrics test) {

    /** @return the test loss */
    double testLoss() {
        return test.loss();
    }

    /** @return the test accuracy */
    double testAccuracy() {
        return test.accuracy();
    }
}
