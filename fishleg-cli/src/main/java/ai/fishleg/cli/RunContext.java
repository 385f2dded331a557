package ai.fishleg.cli;

import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import com.google.gson.JsonObject;
import java.nio.file.Path;

/**
 * What a command runs on, shared by all its optimizers.
 *
 * @param command the subcommand (train, compare, demo)
 * @param task the task
 * @param data description of the data (name and folder or generator seed)
 * @param trainExamples training examples
 * @param testExamples test examples
 * @param budget epochs or steps, batch size
 * @param init how the initial weights are drawn
 * @param seed the run seed
 * @param out the output folder
 */
record RunContext(String command, Task task, String data, long trainExamples, long testExamples,
        Budget budget, ModelInit.Scheme init, long seed, Path out) {

    /** @return the context as the first fields of summary.json */
    JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("command", command);
        o.addProperty("task", task.name());
        o.addProperty("data", data);
        o.addProperty("train_examples", trainExamples);
        o.addProperty("test_examples", testExamples);
        o.addProperty("batch_size", budget.batchSize());
        o.addProperty("init", init.label());
        o.addProperty("seed", seed);
        return o;
    }
}
