/**
 * FishLeg inside DJL's standard training API: {@link ai.fishleg.training.FishLegOptimizer} is a DJL
 * {@link ai.djl.training.optimizer.Optimizer} for {@link ai.djl.training.DefaultTrainingConfig}, so
 * that {@link ai.djl.training.EasyTrain#fit} trains with FishLeg; it provides the matching loss
 * ({@link ai.fishleg.training.LikelihoodLoss}, the likelihood's nll) and evaluators ({@link
 * ai.fishleg.training.AuxMetric}) that bring FishLeg's auxiliary metrics to DJL's listeners.
 */
package ai.fishleg.training;
