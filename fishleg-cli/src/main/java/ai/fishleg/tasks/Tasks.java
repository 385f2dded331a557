package ai.fishleg.tasks;

import ai.fishleg.core.ParameterStep;
import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.Hyperparameters;
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
    // Adam's, SGD's and Muon's learning rates: the winners of `fishleg tune` at a fixed budget
    // (docs/PRESETS.md#tuned-learning-rates); Muon's AdamW part uses the task's Adam learning rate.
    private static final List<Task> ALL = List.of(
            new Task(
                    "curves-autoencoder",
                    "CURVES auto-encoder 784-400-200-100-50-25-6 (mirrored), generated images, Bernoulli",
                    Task.Kind.AUTOENCODER, Task.Source.CURVES, false,
                    () -> Models.autoencoder(PIXELS, 400, 200, 100, 50, 25, 6),
                    100, 10, ModelInit.Scheme.HE,
                    kronecker().fishLr(3e-3).damping(0.03).klClip(0.01).auxLr(2e-4)
                            .updateAuxEvery(30).batchSpeedup(true).build(),
                    new BaselineSettings(4e-3, 0, 0),
                    new BaselineSettings(1e-3, 0.9, 0),
                    KfacSettings.standard().with(1e-3, 0.03),
                    MuonSettings.standard(5e-3, 4e-3)),
            paperAutoencoder("fmnist-autoencoder", "", Task.Source.FASHION_MNIST),
            paperAutoencoder("mnist-autoencoder", " (data: --data DIR)", Task.Source.MNIST),
            new Task(
                    "fmnist-mlp",
                    "Fashion-MNIST classifier, MLP 784-512-256-10 (ReLU), softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, false,
                    () -> Models.mlp(MnistFolder.CLASSES, 512, 256),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    kronecker().fishLr(0.01).damping(0.03).klClip(0.01).auxLr(2e-4)
                            .updateAuxEvery(30).batchSpeedup(true).build(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.025, 0.9, 0),
                    KfacSettings.standard().with(1e-2, 0.03),
                    MuonSettings.standard(0.01, 1e-3)),
            new Task(
                    "fmnist-cnn",
                    "Fashion-MNIST classifier, CNN 2x(Conv2d 5x5 + BatchNorm + ReLU + max-pool) + Linear, softmax",
                    Task.Kind.CLASSIFIER, Task.Source.FASHION_MNIST, true,
                    () -> Models.cnn(MnistFolder.CLASSES),
                    100, 5, ModelInit.Scheme.PYTORCH,
                    kronecker().fishLr(3e-3).damping(0.03).klClip(0.01).auxLr(2e-4)
                            .updateAuxEvery(30).batchSpeedup(true).build(),
                    new BaselineSettings(1e-3, 0, 0),
                    new BaselineSettings(0.0125, 0.9, 0),
                    KfacSettings.standard(),
                    MuonSettings.standard(0.01, 1e-3)));

    /** The paper's MNIST auto-encoder 784-1000-500-250-30 (mirrored), Bernoulli, batch 100. */
    private static Task paperAutoencoder(String name, String note, Task.Source source) {
        return new Task(
                name,
                source.title() + " auto-encoder 784-1000-500-250-30 (mirrored), Bernoulli" + note,
                Task.Kind.AUTOENCODER, source, false,
                () -> Models.autoencoder(PIXELS, 1000, 500, 250, 30),
                100, 10, ModelInit.Scheme.PYTORCH,
                // the Kronecker start, renewed every 100 steps, with K-FAC's step rule and sizes;
                // the auxiliary loss refines Q in between (docs/LEVERS.md#the-kronecker-start)
                kronecker().fishLr(5e-3).damping(0.1).klClip(0.01).auxLr(2e-4)
                        .updateAuxEvery(30).batchSpeedup(true).build(),
                new BaselineSettings(2e-3, 0, 0),
                new BaselineSettings(2e-3, 0.9, 0),
                KfacSettings.standard().with(3e-3, 0.1),
                MuonSettings.standard(2.5e-3, 2e-3));
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

    /**
     * {@link #antithetic()} with the Kronecker start (docs/ALGORITHM.md §18) from 3 batches, renewed
     * every 100 steps, and K-FAC's heavy-ball step (§9.5): Q is K-FAC's damped inverse at each
     * renewal and learned by the auxiliary loss in between. Each preset adds fishLr, damping, klClip
     * and how fast Q learns.
     */
    private static Hyperparameters.Builder kronecker() {
        return antithetic().kroneckerStart(3).kroneckerEvery(100)
                .momentumForm(ParameterStep.Momentum.HEAVY_BALL);
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
