package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.ManagedLayers.LayerDescription;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Layers are found inside {@code SequentialBlock}, {@code ParallelBlock} and user {@code
 * AbstractBlock}s, named by dotted paths; parameter-free blocks are ignored; a selected block of
 * an unsupported type with parameters is an error naming it; {@link FishLeg#describeLayers}
 * reports names and block sizes.
 */
class NestedLayerDiscoveryTest {

    /** A user block with two registered children: a linear layer and a layer norm. */
    static final class Encoder extends AbstractBlock {
        private final Linear inner;
        private final LayerNorm norm;

        Encoder() {
            inner = addChildBlock("inner", Linear.builder().setUnits(2).build());
            norm = addChildBlock("norm", LayerNorm.builder().build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
            return norm.forward(ps, inner.forward(ps, inputs, training), training);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return norm.getOutputShapes(inner.getOutputShapes(inputShapes));
        }

        @Override
        protected void initializeChildBlocks(NDManager m, DataType type, Shape... inputShapes) {
            inner.initialize(m, type, inputShapes);
            norm.initialize(m, type, inner.getOutputShapes(inputShapes));
        }
    }

    /** A user block with a parameter of its own (a type FishLeg does not know). */
    static final class Scale extends AbstractBlock {
        private final Parameter alpha;

        Scale() {
            alpha = addParameter(Parameter.builder().setName("alpha")
                    .setType(Parameter.Type.GAMMA).optShape(new Shape(1)).build());
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> p) {
            NDArray a = ps.getValue(alpha, inputs.head().getDevice(), training);
            return new NDList(inputs.head().mul(a));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }

    static SequentialBlock model(NDManager m) {
        SequentialBlock model = new SequentialBlock()
                .add(Linear.builder().setUnits(4).build())
                .add(Activation::tanh)
                .add(new ParallelBlock(
                        list -> new NDList(NDArrays.concat(new NDList(
                                list.get(0).head(), list.get(1).head()), 1)),
                        List.<Block>of(
                                Linear.builder().setUnits(3).build(),
                                new SequentialBlock()
                                        .add(Linear.builder().setUnits(3).build())
                                        .add(Activation::relu))))
                .add(new Encoder())
                .add(new Scale())
                .add(Linear.builder().setUnits(2).build());
        model.initialize(m, DataType.FLOAT64, new Shape(1, 5));
        return model;
    }

    static FishLeg.Builder builder(NDManager m, Block model) {
        FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1);
        NDArray x = m.ones(new Shape(3, 5), DataType.FLOAT64);
        NDArray y = m.zeros(new Shape(3, 2), DataType.FLOAT64);
        return FishLeg.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                BatchSources.cycle(List.of(LabeledBatch.of(x, y))));
    }

    @Test
    void everySupportedLayerIsFoundAtAnyDepthByItsDottedName() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = model(m);
            try (FishLeg opt = builder(m, model).build()) {
                assertThat(opt.managedNames()).containsExactly(
                        "01Linear",
                        "03ParallelBlock.01Linear",
                        "03ParallelBlock.02SequentialBlock.01Linear",
                        "04Encoder.01inner",
                        "04Encoder.02norm",
                        "06Linear");
                assertThat(opt.getUnmanagedParameters()).containsExactly("05Scale_alpha");
            }
        }
    }

    @Test
    void selectedContainersStandForTheirLayersAndUnsupportedSelectedLayersAreErrors() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = model(m);
            try (FishLeg opt = builder(m, model).moduleNames("04Encoder", "re:03Par").build()) {
                assertThat(opt.managedNames()).containsExactly(
                        "03ParallelBlock.01Linear",
                        "03ParallelBlock.02SequentialBlock.01Linear",
                        "04Encoder.01inner",
                        "04Encoder.02norm");
            }
            assertThatThrownBy(() -> builder(m, model).moduleNames("05Scale").build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("05Scale").hasMessageContaining("Scale")
                    .hasMessageContaining("not supported");
            model.getChildren().get(5).getValue().freezeParameters(true);
            try (FishLeg opt = builder(m, model).build()) {
                assertThat(opt.managedNames()).as("a frozen layer is not managed")
                        .doesNotContain("06Linear");
            }
            assertThatThrownBy(() -> builder(m, model).moduleNames("06Linear").build())
                    .hasMessageContaining("06Linear").hasMessageContaining("trainable");
        }
    }

    @Test
    void describeLayersListsNamesAndBlockSizes() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = model(m);
            List<LayerDescription> all = FishLeg.describeLayers(model);
            assertThat(all).containsExactly(
                    linear("01Linear", 5, 4),
                    linear("03ParallelBlock.01Linear", 4, 3),
                    linear("03ParallelBlock.02SequentialBlock.01Linear", 4, 3),
                    linear("04Encoder.01inner", 6, 2),
                    new LayerDescription("04Encoder.02norm", "LayerNorm", true, 4, 4),
                    new LayerDescription("05Scale", "Scale", false, 1, 0),
                    linear("06Linear", 2, 2));
            List<LayerDescription> some =
                    FishLeg.describeLayers(model, List.of("re:0[14]"), List.of("norm"));
            assertThat(some).filteredOn(LayerDescription::managed)
                    .extracting(LayerDescription::name)
                    .containsExactly("01Linear", "04Encoder.01inner");
        }
    }

    /** A linear layer's row: (in+1)·out parameters, λ = L (in+1)² + R out² + A out·(in+1). */
    static LayerDescription linear(String name, int in, int out) {
        long k = in + 1;
        long aux = k * k + (long) out * out + out * k;
        return new LayerDescription(name, "Linear", true, k * out, aux);
    }
}
