package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.LayerNorm;
import ai.fishleg.curvature.Bias;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.testing.LayerModels;
import org.junit.jupiter.api.Test;

/**
 * Each block's FLOP report against closed forms written out from its shape: o x k for U, n gradient
 * rows; a multiply-add counts two; the necessary count of a triangular factor's Gram matrix is
 * n³/3 and of the kept upper triangle of its gradient 2n³/3.
 */
class FlopReportTest {

    private static final CurvatureOptions SPEEDUP = CurvatureOptions.DEFAULT.with(CurvatureOptions.Form.KRONECKER);

    @Test
    void smallFishLinearCountsPlainProductsAndTriangularNecessaryWork() {
        try (NDManager m = NDManager.newBaseManager()) {
            FishLinear b = new FishLinear(4, 3, Bias.WITH, m, DataType.FLOAT64,
                    CurvatureOptions.DEFAULT);
            double o = 3;
            double k = 5;
            double qv = 2 * o * o * k + 2 * o * k * k;
            assertThat(b.naturalGradientFlops(100)).isEqualTo(FlopCount.of(qv));
            // tape Qv, P = (D⊙A)N, P Xᵀ, (MX)ᵀ(D⊙A), M P (A learned)
            double products = qv + 2 * o * k * k + 2 * o * o * k + 2 * o * k * k + 2 * o * o * k;
            // R(∂M+∂Mᵀ), (∂N+∂Nᵀ)L, RᵀR, LLᵀ: all plain below the split size
            double executed = products + 2 * o * o * o + 2 * k * k * k + 2 * o * o * o + 2 * k * k * k;
            double necessary = products + (2 * o * o * o + 2 * k * k * k) / 3
                    + (o * o * o + k * k * k) / 3;
            assertClose(b.auxUpdateFlops(100), executed, necessary);
        }
    }

    @Test
    void largeTriangularFactorsAreCountedAsTheSplitProducts() {
        try (NDManager m = NDManager.newBaseManager()) {
            int n = KroneckerBlock.TRIANGULAR_SPLIT_FROM;
            // batchSpeedup: no A, so no M P; in = out = n, no bias: o = k = n (no padding)
            FishLinear b = new FishLinear(n, n, Bias.WITHOUT, m, DataType.FLOAT64, SPEEDUP);
            double c = (double) n * n * n;
            double products = 4 * c + 2 * c + 2 * c + 2 * c; // Qv, P, P Xᵀ, (MX)ᵀ D
            // two factor gradients from five half-size products, two Gram matrices from four
            double executed = products + 2 * 1.25 * c + 2 * c;
            double necessary = products + 2 * (2 * c / 3) + 2 * (c / 3);
            assertClose(b.auxUpdateFlops(10), executed, necessary);
        }
    }

    @Test
    void recordingLinearWithBatchSpeedupCountsTheFactoredProducts() {
        try (NDManager m = NDManager.newBaseManager()) {
            RecordingLinear layer = RecordingLinear.builder().setUnits(30).build();
            layer.initialize(m, DataType.FLOAT64, new Shape(2, 20));
            FishLinear b = FishLinear.forLayer("fc", layer, m, SPEEDUP);
            double n = 2;
            double o = 30;
            double k = 21;
            double qg = 2 * o * o * n + 2 * n * k * k + 2 * o * n * k;
            assertThat(b.naturalGradientFlops(2)).isEqualTo(FlopCount.of(qg));
            // Y and Z (2okn each); both factor gradients in the low-rank form (8·side²·n, half
            // of it necessary); RᵀR and LLᵀ plain
            double executed = qg + 4 * o * k * n + 8 * o * o * n + 8 * k * k * n
                    + 2 * o * o * o + 2 * k * k * k;
            double necessary = qg + 4 * o * k * n + 4 * o * o * n + 4 * k * k * n
                    + (o * o * o + k * k * k) / 3;
            assertClose(b.auxUpdateFlops(2), executed, necessary);
            assertThat(b.layerFlops(8)).isEqualTo(6.0 * 8 * o * k);
            // a batch wider than the layer: Qv on the formed gradient is cheaper
            assertThat(b.naturalGradientFlops(1000))
                    .isEqualTo(FlopCount.of(2 * o * o * k + 2 * o * k * k));
        }
    }

    @Test
    void convolutionFactorsAreFullSoNecessaryEqualsExecuted() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block conv = Conv2d.builder().setFilters(3).setKernelShape(new Shape(2, 2)).build();
            conv.initialize(m, DataType.FLOAT64, new Shape(1, 2, 5, 5));
            CurvatureBlock b = LayerRegistry.factoryFor(conv).create("c", conv, m,
                    CurvatureOptions.DEFAULT);
            double o = 3;
            double k = 2 * 2 * 2 + 1;
            double qv = 2 * o * o * k + 2 * o * k * k;
            double total = qv + 2 * o * k * k + 2 * o * o * k + 2 * o * k * k + 2 * o * o * k
                    + 2 * o * o * o + 2 * k * k * k + 2 * o * o * o + 2 * k * k * k;
            assertClose(b.auxUpdateFlops(4), total, total);
        }
    }

    @Test
    void embeddingHasADiagonalOutFactor() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block emb = LayerModels.embedding(5, 3);
            emb.initialize(m, DataType.FLOAT64, new Shape(2, 4));
            CurvatureBlock b = LayerRegistry.factoryFor(emb).create("e", emb, m,
                    CurvatureOptions.DEFAULT);
            double o = 5;
            double k = 3;
            double qv = o * k + 2 * o * k * k; // diag(R²) X is elementwise-like: ok
            assertThat(b.naturalGradientFlops(4)).isEqualTo(FlopCount.of(qv));
            // P, diag(P Xᵀ) (2ok), (MX)ᵀ(D⊙A), M P (ok), 2 r ⊙ ∂M (2o), (∂N+∂Nᵀ)L, R², LLᵀ
            double total = qv + 2 * o * k * k + 2 * o * k + 2 * o * k * k + o * k + 2 * o
                    + 2 * k * k * k + o + 2 * k * k * k;
            assertClose(b.auxUpdateFlops(4), total, total);
        }
    }

    @Test
    void normalisationBlocksDoNoMatrixProducts() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block norm = LayerNorm.builder().build();
            norm.initialize(m, DataType.FLOAT64, new Shape(2, 2, 3));
            CurvatureBlock b = LayerRegistry.factoryFor(norm).create("n", norm, m,
                    CurvatureOptions.DEFAULT);
            assertThat(b.naturalGradientFlops(4)).isEqualTo(FlopCount.ZERO);
            assertThat(b.auxUpdateFlops(4)).isEqualTo(FlopCount.ZERO);
            assertThat(b.layerFlops(4)).isZero();
        }
    }

    private static void assertClose(FlopCount actual, double executed, double necessary) {
        assertThat(actual.executed()).as("executed").isCloseTo(executed,
                org.assertj.core.data.Offset.offset(1e-9 * executed));
        assertThat(actual.necessary()).as("necessary").isCloseTo(necessary,
                org.assertj.core.data.Offset.offset(1e-9 * necessary));
    }
}
