package ai.fishleg.tasks;

import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.presets.TaskPreset;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The built-in tasks and their presets. Where each preset comes from (reference settings and the
 * measured runs that chose it) is written down in docs/PRESETS.md.
 */
public final class Tasks {

    /** The default task: generated data, so it runs anywhere. */
    public static final String DEFAULT = "curves-autoencoder";

    private static final int PIXELS = 28 * 28;

    // Presets: where each comes from, and the measured runs behind it, are in docs/PRESETS.md.
    // FishLeg's and K-FAC's are the library's (TaskPreset), so that each value lives in one place.
    // Adam's, SGD's and Muon's learning rates: the winners of `fishleg tune` at a fixed budget
    // (docs/PRESETS.md#tuned-learning-rates); Muon's AdamW part uses the task's Adam learning rate.
    private static final List<Task> ALL = List.of(
            new Task(
                    "curves-autoencoder",
                    "CURVES auto-encoder 784-400-200-100-50-25-6 (mirrored), generated images, Bernoulli",
                    Task.Kind.AUTOENCODER, Task.Source.CURVES, false,
                    () -> Models.autoencoder(PIXELS, 400, 200, 100, 50, 25, 6),
                    100, 10, ModelInit.Scheme.HE,
                    TaskPreset.CURVES_AUTOENCODER.fishLeg(),
                    new BaselineSettings(4e-3, 0, 0),
                    new BaselineSettings(1e-3, 0.9, 0),
                    kfac(TaskPreset.CURVES_AUTOENCODER),
                    MuonSettings.standard(5e-3, 4e-3)),
            imageAutoencoder(TaskPreset.FMNIST_AUTOENCODER, Task.Source.FASHION_MNIST, "",
                    1000, 500, 250, 30),
            imageAutoencoder(TaskPreset.MNIST_AUTOENCODER, Task.Source.MNIST, " (data: --data DIR)",
                    1000, 500, 250, 30),
            // Wider layers, to compare FishLeg with K-FAC as the width grows (issue 22). Its presets
            // are fmnist-autoencoder's and were NOT tuned for this network (docs/PRESETS.md).
            imageAutoencoder(TaskPreset.FMNIST_WIDE_AUTOENCODER, Task.Source.FASHION_MNIST,
                    "; fmnist-autoencoder's presets, not tuned for this width", 2000, 1000, 500, 30),
            new Task(
                    "fmnist-mlp",
                    "Fashion-MNIST classifier, MLP 784-512-256-10 (ReLU), softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, false,
                    () -> Models.mlp(MnistFolder.CLASSES, 512, 256),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    TaskPreset.FMNIST_MLP.fishLeg(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.025, 0.9, 0),
                    kfac(TaskPreset.FMNIST_MLP),
                    MuonSettings.standard(0.01, 1e-3)),
            new Task(
                    "fmnist-cnn",
                    "Fashion-MNIST classifier, CNN 2x(Conv2d 5x5 + BatchNorm + ReLU + max-pool) + Linear, softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, true,
                    () -> Models.cnn(MnistFolder.CLASSES),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    TaskPreset.FMNIST_CNN.fishLeg(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.0125, 0.9, 0),
                    kfac(TaskPreset.FMNIST_CNN),
                    MuonSettings.standard(0.01, 1e-3)));

    /**
     * An auto-encoder on 28x28 images, set up as the paper's MNIST auto-encoder 784-1000-500-250-30
     * (mirrored): Bernoulli, batch 100, 10 epochs, PyTorch initialisation, and its Adam, SGD and Muon
     * settings.
     *
     * @param preset FishLeg's and K-FAC's preset, and the task's name
     * @param source the images
     * @param note appended to the summary
     * @param widths the encoder's widths after the 784 inputs, the code last; the decoder mirrors them
     */
    private static Task imageAutoencoder(TaskPreset preset, Task.Source source, String note,
            int... widths) {
        String layers = PIXELS + IntStream.of(widths).mapToObj(w -> "-" + w).collect(Collectors.joining());
        return new Task(
                preset.taskName(),
                source.title() + " auto-encoder " + layers + " (mirrored), Bernoulli" + note,
                Task.Kind.AUTOENCODER, source, false,
                () -> Models.autoencoder(PIXELS, widths),
                100, 10, ModelInit.Scheme.PYTORCH,
                preset.fishLeg(),
                new BaselineSettings(2e-3, 0, 0),
                new BaselineSettings(2e-3, 0.9, 0),
                kfac(preset),
                MuonSettings.standard(2.5e-3, 2e-3));
    }

    /** K-FAC's settings for a task: the library's preset lr and damping over the standard ones. */
    private static KfacTaskSettings kfac(TaskPreset preset) {
        return KfacTaskSettings.standard().with(preset.kfac().lr(), preset.kfac().damping());
    }

    private Tasks() {}

    /** @return every task, default first */
    public static List<Task> all() {
        return ALL;
    }

    /** @return the names of all tasks */
    public static List<String> names() {
        return ALL.stream().map(Task::name).collect(Collectors.toList());
    }

    /**
     * @param name a task name
     * @return the task
     * @throws IllegalArgumentException listing the known names when there is no such task
     */
    public static Task get(String name) {
        for (Task t : ALL) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException(
                "unknown task '" + name + "'; tasks: " + String.join(", ", names()));
    }
}
