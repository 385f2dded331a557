package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import picocli.CommandLine.Option;

/** The {@code --task} option of the commands that work on a task. */
final class TaskOption {

    @Option(names = "--task", paramLabel = "TASK", defaultValue = "curves-autoencoder",
            converter = TaskConverter.class, completionCandidates = TaskConverter.class,
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Task task;
}
