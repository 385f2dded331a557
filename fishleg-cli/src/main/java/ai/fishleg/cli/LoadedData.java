package ai.fishleg.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.datasets.ImageDataset;
import ai.fishleg.tasks.Task;

/**
 * A task's data, loaded once and shared by every optimizer of a command: the images in memory and
 * as arrays owned by one manager.
 *
 * @param task the task
 * @param dataset the images
 * @param train training arrays
 * @param test test arrays
 * @param manager owner of the arrays (closed with this object)
 */
record LoadedData(Task task, ImageDataset dataset, Task.Split train, Task.Split test, NDManager manager)
        implements AutoCloseable {

    /** Element type of data, parameters and optimizer state. */
    static final DataType DATA_TYPE = DataType.FLOAT32;

    /**
     * @param task the task
     * @param dataset its images
     * @return the data as arrays in a new manager
     */
    static LoadedData of(Task task, ImageDataset dataset) {
        NDManager manager = NDManager.newBaseManager();
        try {
            return new LoadedData(task, dataset,
                    task.toArrays(dataset.train(), manager, DATA_TYPE),
                    task.toArrays(dataset.test(), manager, DATA_TYPE),
                    manager);
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
