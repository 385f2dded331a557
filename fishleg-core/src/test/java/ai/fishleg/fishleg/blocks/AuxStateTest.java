package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.curvature.Bias;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Writing λ through a block's {@link AuxState} drops the products cached from it: after each kind
 * of write (assign, scale, subtract) Qv equals the dense Q of the new λ, built from the
 * formulas ({@link LayerBlocksTest#denseQ}), on every layer type.
 */
class AuxStateTest {

    static java.util.stream.Stream<LayerBlocksTest.Case> cases() {
        return LayerBlocksTest.cases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void everyWriteThroughTheStateIsSeenByTheNextQv(LayerBlocksTest.Case c) {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureBlock block = LayerBlocksTest.build(m, c, CurvatureOptions.DEFAULT);
            Rng rng = new Rng(7);
            double[] v = rng.gaussians(Math.toIntExact(block.parameterSize()));
            List<String> names = new ArrayList<>(block.getAuxParameters().keySet());
            for (int round = 0; round < 3; round++) {
                assertQvIsDense(m, block, v); // fills the cache with the current λ
                for (int i = 0; i < names.size(); i++) {
                    String name = names.get(i);
                    NDArray live = block.getAuxParameters().get(name);
                    try (NDArray r = Tensors.create(m, rng.gaussians(Math.toIntExact(live.size())),
                            live.getShape(), DataType.FLOAT64)) {
                        switch ((round + i) % 3) {
                            case 0 -> block.state().assign(name, r);
                            case 1 -> block.state().subtract(name, r.mul(0.5));
                            default -> block.state().scale(name, 1.5);
                        }
                    }
                }
            }
            assertQvIsDense(m, block, v);
        }
    }

    private static void assertQvIsDense(NDManager m, CurvatureBlock block, double[] v) {
        double[] qv = Dense.flatten(block.qv(BlockMatrices.unflatten(m, block, v)));
        double[] expected = Dense.apply(LayerBlocksTest.denseQ(block), v);
        assertThat(Dense.relError(qv, expected)).isLessThan(1e-12);
    }

    @Test
    void theBaseClassMasksFishLinearsFactorGradientsToTheirUpperTriangles() {
        try (NDManager m = NDManager.newBaseManager()) {
            FishLinear block = new FishLinear(2, 3, Bias.WITH, m, DataType.FLOAT64,
                    CurvatureOptions.DEFAULT);
            NDArray g = m.ones(block.getL().getShape(), DataType.FLOAT64);
            double[] masked = Dense.values(block.maskGradient(KroneckerBlock.L, g));
            int k = block.getCols();
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < k; j++) {
                    assertThat(masked[i * k + j]).as("(%d, %d)", i, j).isEqualTo(j >= i ? 1 : 0);
                }
            }
            NDArray ga = m.ones(block.getA().getShape(), DataType.FLOAT64);
            assertThat(Dense.values(block.maskGradient(KroneckerBlock.A, ga))).containsOnly(1.0);
        }
    }

    @Test
    void writingAnUnknownTensorNamesTheOnesThereAre() {
        try (NDManager m = NDManager.newBaseManager()) {
            FishLinear block = new FishLinear(2, 3, Bias.WITHOUT, m, DataType.FLOAT64,
                    CurvatureOptions.DEFAULT);
            assertThatThrownBy(() -> block.state().scale("W", 2))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'W'").hasMessageContaining("[L, R, A]");
        }
    }
}
