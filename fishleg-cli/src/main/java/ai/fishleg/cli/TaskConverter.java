package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;

/** Reads {@code --task NAME}; the help lists the names. */
final class TaskConverter extends ChoiceConverter<Task> {

    TaskConverter() {
        super("task", Tasks.names(), Tasks::get);
    }
}
