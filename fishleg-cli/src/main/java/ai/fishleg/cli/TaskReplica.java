package ai.fishleg.cli;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.spark.ReplicaSpec;
import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;

/**
 * A built-in task's model as the Spark executors rebuild it: only the task's name travels.
 *
 * @param taskName the task
 */
record TaskReplica(String taskName) implements ReplicaSpec {

    private Task task() {
        return Tasks.get(taskName);
    }

    @Override
    public Block newModel() {
        return task().newModel();
    }

    @Override
    public FishLikelihood newLikelihood() {
        return task().newLikelihood();
    }

    @Override
    public Shape inputShape(long examples) {
        return task().inputShape(examples);
    }

    @Override
    public Shape labelShape(long examples) {
        return task().isClassifier() ? new Shape(examples, MnistFolder.CLASSES) : inputShape(examples);
    }
}
