package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import ai.fishleg.testing.LayerModels;
import ai.fishleg.util.Rng;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@link FishLeg#pretrainFish} takes its direction from {@link PretrainOptions}: the difference of
 * two gradients of the same batch is u = 0, along which the auxiliary loss ½(γ⟨V,V⟩ + ⟨V,F̂V⟩) −
 * ⟨u,V⟩ with V = Q(λ)u is exactly 0 at every iteration, while one batch's gradient gives a loss
 * that is not.
 */
class PretrainOptionsTest {

    @Test
    void theDifferenceOfTwoGradientsOfOneBatchIsZeroAndOneGradientIsNot() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = new SequentialBlock()
                    .add(ai.djl.nn.Blocks.batchFlattenBlock())
                    .add(Linear.builder().setUnits(5).build())
                    .add(Activation::tanh)
                    .add(Linear.builder().setUnits(3).build());
            model.initialize(m, DataType.FLOAT64, LayerModels.CNN_INPUT);
            LabeledBatch batch = LayerModels.images(m, 8, DataType.FLOAT64, new Rng(3));
            NllFunction nll = NllFunction.of(new SoftMaxLikelihood());
            try (FishLeg opt = LayerOptionsTest.builder(model, batch).build()) {
                List<Double> zero = opt.pretrainFish(BatchSources.cycle(List.of(batch)), nll, 2,
                        new PretrainOptions(PretrainOptions.Direction.GRADIENT_DIFFERENCE,
                                FisherLabels.DRAWN, Optional.empty()));
                assertThat(zero).as("u = 0").containsExactly(0.0, 0.0);
                List<Double> one = opt.pretrainFish(BatchSources.cycle(List.of(batch)), nll, 2,
                        PretrainOptions.defaults());
                assertThat(one).as("u = the batch's gradient").hasSize(2)
                        .allSatisfy(v -> assertThat(v).isNotZero().isFinite());
            }
        }
    }

    @Test
    void progressNeedsAPositiveInterval() {
        assertThatThrownBy(() -> new PretrainOptions.Progress(0, Optional.empty()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("> 0");
    }
}
