package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.spark.SparkExamples;
import ai.fishleg.spark.SparkObjective;
import ai.fishleg.tasks.Task;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * {@code --spark MASTER}: the task's training examples on Spark executors (one partition per
 * task slot of the master), the driver training through a {@link SparkObjective}
 * (docs/SPARK.md). The training loop then takes batches of example ids instead of images.
 */
final class SparkBackend implements AutoCloseable {

    private final SparkSession session;
    private final JavaSparkContext context;
    private final SparkExamples examples;
    private final Task task;

    private SparkBackend(String master, LoadedData data) {
        this.task = data.task();
        SparkSession.Builder b = SparkSession.builder().appName("fishleg " + task.name())
                .config("spark.ui.enabled", "false");
        if (!master.equals("submit")) { // spark-submit sets the master itself
            b = b.master(master);
        }
        this.session = b.getOrCreate();
        this.context = JavaSparkContext.fromSparkContext(session.sparkContext());
        float[][] x = rows(data.train().inputs());
        float[][] y = data.train().targets() == data.train().inputs() ? x : rows(data.train().targets());
        this.examples = SparkExamples.fromArrays(context, x, y, context.defaultParallelism());
    }

    /**
     * @param master a Spark master URL ({@code local[2]}, {@code spark://host:7077}, ...), or
     *     {@code submit} to take the one spark-submit gives
     * @param data the task's data (its training split goes to the executors)
     * @return the running backend
     */
    static SparkBackend start(String master, LoadedData data) {
        return new SparkBackend(master, data);
    }

    /**
     * @param model the driver's initialised model
     * @param seed the run's seed
     * @return the objective over the examples
     */
    SparkObjective objective(Block model, long seed) {
        return SparkObjective.builder(context, examples, new TaskReplica(task.name()), model)
                .seed(seed).build();
    }

    /**
     * @param manager owns the ids
     * @param objective the run's objective
     * @return the training split as the loop sees it: example ids as inputs and targets
     */
    static Task.Split ids(NDManager manager, SparkObjective objective) {
        NDArray ids = objective.allIds(manager);
        return new Task.Split(ids, ids);
    }

    @Override
    public void close() {
        examples.close();
        session.stop();
    }

    private static float[][] rows(NDArray a) {
        int n = Math.toIntExact(a.getShape().get(0));
        float[] all = a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
        int each = all.length / n;
        float[][] out = new float[n][];
        for (int i = 0; i < n; i++) {
            out[i] = java.util.Arrays.copyOfRange(all, i * each, (i + 1) * each);
        }
        return out;
    }
}
