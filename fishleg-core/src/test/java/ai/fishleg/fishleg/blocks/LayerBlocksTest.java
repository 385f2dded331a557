package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv1d;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.LayerModels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The curvature block of every supported layer type, built from a real DJL layer through {@link
 * LayerRegistry}, checked in float64 against independent computations: a dense Q built from the
 * formulas of docs/ALGORITHM.md §5 out of the block's λ, the operator's own matrix (symmetric,
 * PSD, diagonal), central finite differences of λ ↦ ⟨D, Q(λ)u⟩ and both warm-up modes.
 */
class LayerBlocksTest {

    /** A layer, its input shape, and how docs/ALGORITHM.md §5 lays its parameters out. */
    record Case(String label, Supplier<Block> layer, Shape input) {
        @Override
        public String toString() {
            return label;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("Linear 3->4 with bias",
                        () -> Linear.builder().setUnits(4).build(), new Shape(2, 3)),
                new Case("Linear 3->2 without bias",
                        () -> Linear.builder().setUnits(2).optBias(false).build(), new Shape(2, 3)),
                new Case("Conv2d 2->3 k2x2 bias",
                        () -> Conv2d.builder().setFilters(3).setKernelShape(new Shape(2, 2))
                                .build(),
                        new Shape(1, 2, 5, 5)),
                new Case("Conv2d 4->2 k2x3 stride2 pad1 dil2 groups2 no bias",
                        () -> Conv2d.builder().setFilters(2).setKernelShape(new Shape(2, 3))
                                .optStride(new Shape(2, 2)).optPadding(new Shape(1, 1))
                                .optDilation(new Shape(2, 2)).optGroups(2).optBias(false).build(),
                        new Shape(1, 4, 7, 7)),
                new Case("Conv2d 4->4 k1x2 groups4 bias",
                        () -> Conv2d.builder().setFilters(4).setKernelShape(new Shape(1, 2))
                                .optGroups(4).build(),
                        new Shape(1, 4, 3, 3)),
                new Case("Conv1d 2->3 k3 bias",
                        () -> Conv1d.builder().setFilters(3).setKernelShape(new Shape(3)).build(),
                        new Shape(1, 2, 6)),
                new Case("BatchNorm C=3",
                        () -> BatchNorm.builder().build(), new Shape(2, 3, 2, 2)),
                new Case("BatchNorm C=4 without centre",
                        () -> BatchNorm.builder().optCenter(false).build(), new Shape(2, 4)),
                new Case("LayerNorm (2,3)",
                        () -> LayerNorm.builder().build(), new Shape(2, 2, 3)),
                new Case("Embedding 5x3",
                        () -> LayerModels.embedding(5, 3), new Shape(2, 4)));
    }

    static CurvatureBlock build(NDManager m, Case c, CurvatureOptions options) {
        Block layer = c.layer().get();
        layer.initialize(m, DataType.FLOAT64, c.input());
        LayerRegistry.Factory f = LayerRegistry.factoryFor(layer);
        assertThat(f).as("factory for " + c).isNotNull();
        return f.create("layer", layer, m, options);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void qvIsTheDenseQOfTheSpecAndSymmetricPsdWithMatchingDiagonal(Case c) {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureBlock block = build(m, c, CurvatureOptions.DEFAULT);
            randomizeAux(block, new Rng(1));
            double[][] dense = denseQ(block);
            int n = dense.length;
            assertThat((long) n).isEqualTo(block.parameterSize());

            double[] v = new Rng(2).gaussians(n);
            double[] qv = Dense.flatten(block.qv(BlockMatrices.unflatten(m, block, v)));
            assertThat(Dense.relError(qv, Dense.apply(dense, v))).isLessThan(1e-12);

            double[][] op = BlockMatrices.operator(m, block);
            double scale = Dense.maxAbs(dense);
            assertThat(Dense.maxAbsDiff(op, dense)).isLessThan(1e-12 * scale);
            assertThat(Dense.maxAbsDiff(op, Dense.transpose(op))).isLessThan(1e-12 * scale);
            assertThat(Dense.minEigenvalue(op)).isGreaterThan(-1e-10 * scale);

            double[] diag = Dense.flatten(block.diagQ());
            for (int i = 0; i < n; i++) {
                assertThat(diag[i]).as("diagQ[" + i + "]").isCloseTo(op[i][i],
                        offset(1e-12 * scale));
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void auxGradientsEqualCentralFiniteDifferences(Case c) {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureBlock block = build(m, c, CurvatureOptions.DEFAULT);
            Rng rng = new Rng(3);
            randomizeAux(block, rng);
            int n = Math.toIntExact(block.parameterSize());
            NDList u = BlockMatrices.unflatten(m, block, rng.gaussians(n));
            NDList d = BlockMatrices.unflatten(m, block, rng.gaussians(n));
            Map<String, NDArray> grads;
            try (CurvatureBlock.Tape tape = block.qvTape(u)) {
                assertThat(Dense.relError(Dense.flatten(tape.v()), Dense.flatten(block.qv(u))))
                        .isLessThan(1e-14);
                grads = tape.vjp(d);
            }
            List<String> trainable = new ArrayList<>();
            for (String name : block.getAuxParameters().keySet()) {
                if (block.isTrainable(name)) {
                    trainable.add(name);
                }
            }
            assertThat(grads.keySet()).containsExactlyInAnyOrderElementsOf(trainable);
            double h = 1e-6;
            for (Map.Entry<String, NDArray> e : grads.entrySet()) {
                NDArray aux = block.getAuxParameters().get(e.getKey());
                double[] analytic = Dense.values(e.getValue());
                double[] base = Dense.values(aux);
                double[] numeric = new double[base.length];
                for (int i = 0; i < base.length; i++) {
                    numeric[i] = (objective(block, e.getKey(), base, i, h, u, d)
                            - objective(block, e.getKey(), base, i, -h, u, d)) / (2 * h);
                }
                BlockMatrices.setAux(block, e.getKey(), base);
                assertThat(Dense.relError(analytic, numeric))
                        .as(c + ": gradient of " + e.getKey()).isLessThan(1e-7);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void warmupWithoutDataGivesScaledIdentity(Case c) {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureBlock block = build(m, c, CurvatureOptions.DEFAULT);
            double s = 2.5;
            block.warmup(null, s);
            double[][] op = BlockMatrices.operator(m, block);
            for (int i = 0; i < op.length; i++) {
                for (int j = 0; j < op.length; j++) {
                    assertThat(op[i][j]).as("Q0[" + i + "][" + j + "]")
                            .isCloseTo(i == j ? s : 0, offset(1e-12));
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void diagonalWarmupGivesSquaredDiagonal(Case c) {
        try (NDManager m = NDManager.newBaseManager()) {
            CurvatureBlock block = build(m, c, CurvatureOptions.DEFAULT);
            int n = Math.toIntExact(block.parameterSize());
            double[] dv = new Rng(4).uniforms(n);
            for (int i = 0; i < n; i++) {
                dv[i] += 0.5;
            }
            block.warmup(BlockMatrices.unflatten(m, block, dv), 3.0);
            double[][] op = BlockMatrices.operator(m, block);
            double[] diag = Dense.flatten(block.diagQ());
            for (int i = 0; i < n; i++) {
                assertThat(op[i][i]).isCloseTo(dv[i] * dv[i], offset(1e-12));
                assertThat(diag[i]).isCloseTo(dv[i] * dv[i], offset(1e-12));
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // the independent dense Q (docs/ALGORITHM.md §5)

    /**
     * Q as a dense matrix on the parameters flattened in block order, from the formulas of
     * docs/ALGORITHM.md §5.
     */
    static double[][] denseQ(CurvatureBlock block) {
        if (block instanceof DiagonalBlock diagonal) {
            List<Double> d = new ArrayList<>();
            for (int i = 0; i < diagonal.getOrder().size(); i++) {
                for (double l : Dense.values(diagonal.getFactor(i))) {
                    d.add(l * l); // Q = diag(L²)   (docs/ALGORITHM.md §5.5)
                }
            }
            double[][] q = new double[d.size()][d.size()];
            for (int i = 0; i < d.size(); i++) {
                q[i][i] = d.get(i);
            }
            return q;
        }
        KroneckerBlock k = (KroneckerBlock) block;
        int rows = k.getRows();
        int cols = k.getCols();
        double[][] l = Dense.matrix(Dense.values(k.getL()), cols, cols);
        double[][] outM;
        if (k.isOutFactorDiagonal()) { // Embedding: M = diag(R²)   (docs/ALGORITHM.md §5.6)
            double[] r = Dense.values(k.getR());
            outM = new double[rows][rows];
            for (int i = 0; i < rows; i++) {
                outM[i][i] = r[i] * r[i];
            }
        } else { // M = RᵀR
            double[][] r = Dense.matrix(Dense.values(k.getR()), rows, rows);
            outM = Dense.mul(Dense.transpose(r), r);
        }
        // Conv: N = LᵀL (docs/ALGORITHM.md §5.4); Linear, Embedding: N = LLᵀ
        double[][] inN = block instanceof FishConvolution
                ? Dense.mul(Dense.transpose(l), l)
                : Dense.mul(l, Dense.transpose(l));
        double[][] kron = Dense.kron(outM, inN);
        double[] a = k.usesA() ? Dense.values(k.getA()) : ones(rows * cols);
        int size = rows * cols;
        double[][] qU = new double[size][size];
        for (int i = 0; i < size; i++) {
            for (int j = 0; j < size; j++) {
                qU[i][j] = a[i] * kron[i][j] * a[j]; // D_A (M ⊗ N) D_A on vec_r(U)
            }
        }
        // parameters in block order -> vec_r(U): weight (o, k) -> o*cols + k, bias o -> last column
        boolean bias = block.getOrder().size() == 2;
        int fan = bias ? cols - 1 : cols;
        int[] pos = new int[size];
        for (int o = 0; o < rows; o++) {
            for (int c = 0; c < fan; c++) {
                pos[o * fan + c] = o * cols + c;
            }
            if (bias) {
                pos[rows * fan + o] = o * cols + fan;
            }
        }
        double[][] q = new double[size][size];
        for (int i = 0; i < size; i++) {
            for (int j = 0; j < size; j++) {
                q[i][j] = qU[pos[i]][pos[j]];
            }
        }
        return q;
    }

    // --------------------------------------------------------------------------------------
    // helpers

    static double[] ones(int n) {
        double[] o = new double[n];
        java.util.Arrays.fill(o, 1);
        return o;
    }

    /** Sets every aux tensor to random values (away from the identity start). */
    static void randomizeAux(CurvatureBlock block, Rng rng) {
        for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
            double[] z = rng.gaussians(Math.toIntExact(e.getValue().size()));
            double[] base = Dense.values(e.getValue());
            for (int i = 0; i < z.length; i++) {
                z[i] = base[i] + 0.4 * z[i];
            }
            BlockMatrices.setAux(block, e.getKey(), z);
        }
    }

    private static double objective(
            CurvatureBlock block, String name, double[] base, int i, double h, NDList u, NDList d) {
        double[] x = base.clone();
        x[i] += h;
        BlockMatrices.setAux(block, name, x);
        NDList q = block.qv(u);
        double f = Tensors.dot(d, q);
        q.close();
        return f;
    }
}
