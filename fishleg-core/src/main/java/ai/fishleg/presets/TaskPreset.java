package ai.fishleg.presets;

import ai.fishleg.fishleg.Hyperparameters;

/**
 * The FishLeg and K-FAC presets of the command line's tasks (docs/PRESETS.md, where the runs that
 * chose them are): each task's network, batch size 100, and the step size and damping that won.
 * The command line starts from these, so each value lives here only.
 */
public enum TaskPreset {
    /** CURVES auto-encoder 784-400-200-100-50-25-6 (mirrored), Bernoulli. */
    CURVES_AUTOENCODER("curves-autoencoder", 3e-3, 0.03, 1e-3, 0.03),
    /** Fashion-MNIST auto-encoder 784-1000-500-250-30 (mirrored), Bernoulli. */
    FMNIST_AUTOENCODER("fmnist-autoencoder", 5e-3, 0.1, 3e-3, 0.1),
    /** MNIST auto-encoder, the same network and presets as Fashion-MNIST's. */
    MNIST_AUTOENCODER("mnist-autoencoder", 5e-3, 0.1, 3e-3, 0.1),
    /**
     * Fashion-MNIST auto-encoder with wider layers, 784-2000-1000-500-30 (mirrored), Bernoulli, for
     * comparing FishLeg with K-FAC as the width grows. Not tuned for this network: FishLeg's and
     * K-FAC's values are {@link #FMNIST_AUTOENCODER}'s.
     */
    FMNIST_WIDE_AUTOENCODER("fmnist-wide-autoencoder", 5e-3, 0.1, 3e-3, 0.1),
    /** Fashion-MNIST MLP classifier 784-512-256-10. */
    FMNIST_MLP("fmnist-mlp", 0.01, 0.03, 1e-2, 0.03),
    /** Fashion-MNIST CNN classifier. */
    FMNIST_CNN("fmnist-cnn", 3e-3, 0.03, 3e-3, 0.03);

    private final String taskName;
    private final double fishLr;
    private final double fishDamping;
    private final KfacPreset kfac;

    TaskPreset(String taskName, double fishLr, double fishDamping, double kfacLr,
            double kfacDamping) {
        this.taskName = taskName;
        this.fishLr = fishLr;
        this.fishDamping = fishDamping;
        this.kfac = new KfacPreset(kfacLr, kfacDamping);
    }

    /** @return the command line's name of the task */
    public String taskName() {
        return taskName;
    }

    /** @return FishLeg's preset: {@link FishLegPresets#kroneckerStart} with the task's fishLr and damping */
    public Hyperparameters fishLeg() {
        return FishLegPresets.kroneckerStart(fishLr, fishDamping);
    }

    /** @return K-FAC's preset */
    public KfacPreset kfac() {
        return kfac;
    }

    /**
     * @param name a task's command-line name
     * @return its preset
     * @throws IllegalArgumentException listing the names when there is none
     */
    public static TaskPreset of(String name) {
        for (TaskPreset p : values()) {
            if (p.taskName.equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("no preset for task '" + name + "'; presets: "
                + java.util.Arrays.stream(values()).map(TaskPreset::taskName).toList());
    }
}
