package ai.fishleg.spark;

import java.io.Serializable;

/**
 * Runs at the start of every task of a training job, on the executor (for example to count tasks,
 * or to inject a failure into a test); {@code org.apache.spark.TaskContext.get()} describes the
 * task. A hook that throws fails the task, which Spark retries ({@code spark.task.maxFailures}).
 */
@FunctionalInterface
public interface TaskHook extends Serializable {

    /** @param partition the index of the partition the task computes */
    void beforeTask(int partition);

    /** @return a hook that does nothing */
    static TaskHook none() {
        return partition -> {};
    }
}
