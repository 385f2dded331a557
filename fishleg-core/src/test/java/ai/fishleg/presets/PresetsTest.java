package ai.fishleg.presets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.KfacSettings;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import org.junit.jupiter.api.Test;

/** The library presets are the recipe docs/PRESETS.md describes, with each task's values. */
class PresetsTest {

    @Test
    void theKroneckerStartIsTheRecipeOfThePresetsPage() {
        Hyperparameters written = Hyperparameters.builder().kroneckerStart(3).kroneckerEvery(100)
                .momentumForm(ParameterStep.Momentum.HEAVY_BALL).batchSpeedup(true)
                .estimator(Estimator.ANTITHETIC).normalization(true).auxLr(2e-4)
                .updateAuxEvery(30).klClip(0.01).fishLr(5e-3).damping(0.1).build();
        assertThat(FishLegPresets.kroneckerStart(5e-3, 0.1)).isEqualTo(written);
        assertThat(TaskPreset.FMNIST_AUTOENCODER.fishLeg()).isEqualTo(written);
        assertThat(TaskPreset.MNIST_AUTOENCODER.fishLeg()).isEqualTo(written);
        assertThat(TaskPreset.FMNIST_WIDE_AUTOENCODER.fishLeg()).isEqualTo(written);
    }

    @Test
    void eachTaskHasThePresetsPagesStepSizeAndDamping() {
        // docs/PRESETS.md: FishLeg fishLr, damping; K-FAC lr, damping
        double[][] table = {
            {3e-3, 0.03, 1e-3, 0.03}, {5e-3, 0.1, 3e-3, 0.1}, {5e-3, 0.1, 3e-3, 0.1},
            {5e-3, 0.1, 3e-3, 0.1}, {0.01, 0.03, 1e-2, 0.03}, {3e-3, 0.03, 3e-3, 0.03}};
        String[] names = {"curves-autoencoder", "fmnist-autoencoder", "mnist-autoencoder",
            "fmnist-wide-autoencoder", "fmnist-mlp", "fmnist-cnn"};
        for (int i = 0; i < names.length; i++) {
            TaskPreset p = TaskPreset.of(names[i]);
            assertThat(p.fishLeg().fishLr()).as(names[i]).isEqualTo(table[i][0]);
            assertThat(p.fishLeg().damping()).as(names[i]).isEqualTo(table[i][1]);
            assertThat(p.kfac()).as(names[i]).isEqualTo(new KfacPreset(table[i][2], table[i][3]));
        }
        assertThat(TaskPreset.values()).hasSize(names.length);
        assertThatThrownBy(() -> TaskPreset.of("cifar")).hasMessageContaining("fmnist-mlp");
    }

    @Test
    void aKfacPresetChangesOnlyTheStepSizeAndDamping() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block model = RecordingLinear.builder().setUnits(3).build();
            model.initialize(m, DataType.FLOAT32, new Shape(1, 4));
            BernoulliLikelihood lik = new BernoulliLikelihood();
            try (Kfac defaults = Kfac.builder(model, DrawFunction.of(lik), NllFunction.of(lik),
                            mgr -> null).build();
                    Kfac preset = TaskPreset.CURVES_AUTOENCODER.kfac().configure(Kfac.builder(
                            model, DrawFunction.of(lik), NllFunction.of(lik), mgr -> null))
                            .build()) {
                KfacSettings d = defaults.getSettings();
                KfacSettings expected = new KfacSettings(1e-3, 0.03, d.statDecay(),
                        d.covEvery(), d.invEvery(), d.klClip(), d.momentum(), d.weightDecay(),
                        d.momentumForm(), d.factorInit(), d.dampingForm(), d.fisherSamples(), d.fisherLabels(),
                        d.nonFinitePolicy(), d.moduleNames(), d.skipNames());
                assertThat(preset.getSettings()).isEqualTo(expected);
                assertThat(d.lr()).isNotEqualTo(1e-3);
            }
        }
    }
}
