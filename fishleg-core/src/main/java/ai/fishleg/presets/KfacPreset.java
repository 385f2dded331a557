package ai.fishleg.presets;

import ai.fishleg.kfac.Kfac;

/**
 * A K-FAC preset: the library's defaults ({@link Kfac.Builder}) with a learning rate and damping
 * that won short runs of a task (docs/PRESETS.md).
 *
 * <pre>{@code
 * Kfac opt = TaskPreset.FMNIST_MLP.kfac().configure(Kfac.builder(model, draw, nll, data)).build();
 * }</pre>
 *
 * @param lr learning rate η
 * @param damping γ
 */
public record KfacPreset(double lr, double damping) {

    /**
     * @param builder a K-FAC builder
     * @return the builder with this preset's lr and damping
     */
    public Kfac.Builder configure(Kfac.Builder builder) {
        return builder.lr(lr).damping(damping);
    }
}
