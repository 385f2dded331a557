package ai.fishleg.spark;

import java.io.Serializable;
import java.util.List;

/**
 * What the driver broadcasts for one job: the run, the parameters (as float arrays, in the order
 * of {@code model.getParameters()}), the examples of the batch (sorted ids), what to compute and
 * the seed of the draws.
 *
 * @param runId the run (executors cache one replica per run and partition)
 * @param spec rebuilds the model
 * @param parameters every parameter of the driver's model
 * @param drawParameters the parameters at which labels are drawn (the same array as
 *     {@code parameters} unless the optimizer moved the parameters since its draw)
 * @param ids the batch's example ids, sorted ascending, no repeats
 * @param pass what to compute
 * @param drawSeed the seed of this job's draws (each example's draw mixes in its id)
 * @param layers the dotted names of the K-FAC layers ({@link Pass#KRONECKER} only)
 * @param hook runs before each task
 */
record Job(String runId, ReplicaSpec spec, float[][] parameters, float[][] drawParameters,
        long[] ids, Pass pass, long drawSeed, List<String> layers, TaskHook hook)
        implements Serializable {

    /** @return the payload bytes of the broadcast: parameter values and ids */
    long payloadBytes() {
        long floats = 0;
        for (float[] p : parameters) {
            floats += p.length;
        }
        if (drawParameters != parameters) {
            for (float[] p : drawParameters) {
                floats += p.length;
            }
        }
        return 4 * floats + 8L * ids.length;
    }
}
