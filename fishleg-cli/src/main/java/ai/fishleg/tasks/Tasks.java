package ai.fishleg.tasks;

import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.optim.Estimator;
import ai.fishleg.optim.Hyperparameters;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The built-in tasks and their presets. Where each preset comes from (reference settings and the
 * measured runs that chose it) is written down in docs/PRESETS.md.
 */
public final class Tasks {

    /** The default task: generated data, so it runs anywhere. */
    public static final String DEFAULT = "curves-autoencoder";

    private static final int PIXELS = 28 * 28;

    // Presets: where each comes from, and the measured runs behind it, are in docs/PRESETS.md.
    // K-FAC's: KfacSettings.standard() with the lr and damping that won short runs.
    private static final List<Task> ALL = List.of(
            new Task(
                    "curves-autoencoder",
                    "CURVES auto-encoder 784-400-200-100-50-25-6 (mirrored), generated images, Bernoulli",
                    Task.Kind.AUTOENCODER, Task.Source.CURVES, false,
                    () -> Models.autoencoder(PIXELS, 400, 200, 100, 50, 25, 6),
                    100, 10, ModelInit.Scheme.HE,
                    antithetic().fishLr(0.02).damping(0.3).scale(1.0).auxLr(2e-3)
                            .updateAuxEvery(10).klClip(0.3).build(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.01, 0.9, 0),
                    KfacSettings.standard().with(1e-3, 0.03)),
            paperAutoencoder("fmnist-autoencoder", "", Task.Source.FASHION_MNIST),
            paperAutoencoder("mnist-autoencoder", " (data: --data DIR)", Task.Source.MNIST),
            new Task(
                    "fmnist-mlp",
                    "Fashion-MNIST classifier, MLP 784-512-256-10 (ReLU), softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, false,
                    () -> Models.mlp(MnistFolder.CLASSES, 512, 256),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    antithetic().fishLr(0.1).damping(0.1).scale(10.0).auxLr(1e-3)
                            .updateAuxEvery(2).klClip(0.01).build(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.05, 0.9, 0),
                    KfacSettings.standard().with(1e-2, 0.03)),
            new Task(
                    "fmnist-cnn",
                    "Fashion-MNIST classifier, CNN 2x(Conv2d 5x5 + BatchNorm + ReLU + max-pool) + Linear, softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, true,
                    () -> Models.cnn(MnistFolder.CLASSES),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    // the reference's CNN settings (main branch, docs/ALGORITHM.md §16.3) with klClip
                    Hyperparameters.builder().fishLr(0.02).damping(0.1).auxLr(1e-4)
                            .updateAuxEvery(3).scale(10.0).estimator(Estimator.ANTITHETIC)
                            .preconditionAux(true).klClip(0.01).build(),
                    new BaselineSettings(5e-4, 0, 0),
                    new BaselineSettings(0.05, 0.9, 0),
                    KfacSettings.standard()));

    /** The paper's MNIST auto-encoder 784-1000-500-250-30 (mirrored), Bernoulli, batch 100. */
    private static Task paperAutoencoder(String name, String note, Task.Source source) {
        return new Task(
                name,
                source.title() + " auto-encoder 784-1000-500-250-30 (mirrored), Bernoulli" + note,
                Task.Kind.AUTOENCODER, source, false,
                () -> Models.autoencoder(PIXELS, 1000, 500, 250, 30),
                100, 10, ModelInit.Scheme.PYTORCH,
                // batchSpeedup and damping 1.0: the same steps to Adam's loss at about half the
                // cost per step (docs/LEVERS.md)
                antithetic().fishLr(0.05).damping(1.0).scale(1.0).auxLr(2e-3)
                        .updateAuxEvery(10).klClip(0.1).batchSpeedup(true).build(),
                new BaselineSettings(1e-3, 0, 0),
                new BaselineSettings(0.01, 0.9, 0),
                KfacSettings.standard().with(3e-3, 0.1));
    }

    /**
     * The seed version's update (docs/ALGORITHM.md §16.2: normalised auxiliary loss, and the library's momentum
     * 0.9, weight decay 1e-5 and Q0 = scale·I) with the antithetic estimator, which is unbiased for
     * F (docs/ALGORITHM.md §7, §16.3); each preset adds its step sizes, damping, scale and the trust region
     * klClip, which keeps the larger steps finite.
     */
    private static Hyperparameters.Builder antithetic() {
        return Hyperparameters.builder().normalization(true).estimator(Estimator.ANTITHETIC);
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
