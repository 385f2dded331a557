package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The factor gradients of FishLinear's triangular L and R computed block-wise (five half-size
 * products for the part the upper-triangular mask keeps, {@link TriangularProducts#upperOfProduct}),
 * at sizes where that path is taken ({@link KroneckerBlock#TRIANGULAR_SPLIT_FROM} and more): against the plain product, and end to end
 * against central finite differences of λ ↦ ⟨D, Q(λ)u⟩ on the entries the mask keeps.
 */
class TriangularFactorGradientTest {

    @ParameterizedTest(name = "n = split size + {0}, factor on the left: {1}")
    @CsvSource({"0, true", "0, false", "61, true", "61, false"})
    void upperTriangleEqualsThePlainProduct(int extra, boolean factorLeft) {
        int n = KroneckerBlock.TRIANGULAR_SPLIT_FROM + extra;
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(n);
            double[][] f = Dense.matrix(rng.gaussians(n * n), n, n);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < i; j++) {
                    f[i][j] = 0; // upper triangular
                }
            }
            double[][] g = Dense.matrix(rng.gaussians(n * n), n, n);
            double[][] sym = symmetric(g);
            NDArray fa = array(m, f);
            NDArray sa = array(m, sym);
            double[][] expected = factorLeft ? Dense.mul(f, sym) : Dense.mul(sym, f);
            double[][] got = Dense.matrix(
                    Dense.values(TriangularProducts.upperOfProduct(fa, sa, factorLeft)), n, n);
            double scale = Dense.maxAbs(expected);
            int h = n / 2;
            for (int i = 0; i < n; i++) {
                for (int j = i; j < n; j++) {
                    assertThat(Math.abs(got[i][j] - expected[i][j]))
                            .as("(%d, %d)", i, j).isLessThan(1e-12 * scale);
                }
            }
            for (int i = h; i < n; i++) {
                for (int j = 0; j < h; j++) {
                    assertThat(got[i][j]).as("lower-left (%d, %d)", i, j).isZero();
                }
            }
        }
    }

    @Test
    void aFactorWithoutItsZeroBlockGetsThePlainProduct() {
        int n = KroneckerBlock.TRIANGULAR_SPLIT_FROM + 20;
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(5);
            double[][] f = Dense.matrix(rng.gaussians(n * n), n, n); // dense: no zero block
            double[][] g = Dense.matrix(rng.gaussians(n * n), n, n);
            double[][] sym = symmetric(g);
            double[][] expected = Dense.mul(f, sym);
            double[][] got = Dense.matrix(Dense.values(
                    TriangularProducts.upperOfProduct(array(m, f), array(m, sym), true)), n, n);
            double scale = Dense.maxAbs(expected);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    assertThat(Math.abs(got[i][j] - expected[i][j])).isLessThan(1e-12 * scale);
                }
            }
        }
    }

    @Test
    void maskedFactorGradientsOfALargeLinearLayerEqualFiniteDifferences() {
        try (NDManager m = NDManager.newBaseManager()) {
            // L is (in + 1) x (in + 1), padded to a multiple of 8 columns; R is out x out: both
            // at least the split size.
            int in = KroneckerBlock.TRIANGULAR_SPLIT_FROM + 10;
            int out = KroneckerBlock.TRIANGULAR_SPLIT_FROM + 20;
            Linear layer = Linear.builder().setUnits(out).build();
            layer.initialize(m, DataType.FLOAT64, new Shape(2, in));
            FishLinear block = FishLinear.forLayer("big", layer, m, CurvatureOptions.DEFAULT);
            Rng rng = new Rng(11);
            for (String name : new String[] {KroneckerBlock.L, KroneckerBlock.R}) {
                NDArray aux = block.getAuxParameters().get(name);
                int n = Math.toIntExact(aux.getShape().get(0));
                double[] v = Dense.values(aux);
                double[] z = rng.gaussians(v.length);
                for (int i = 0; i < n; i++) {
                    for (int j = i; j < n; j++) {
                        v[i * n + j] += 0.3 * z[i * n + j]; // random upper triangle
                    }
                }
                LayerBlocksTest.setAux(block, aux, v);
            }
            NDArray a = block.getA();
            double[] av = Dense.values(a);
            double[] za = rng.gaussians(av.length);
            for (int i = 0; i < av.length; i++) {
                av[i] += 0.3 * za[i];
            }
            LayerBlocksTest.setAux(block, a, av);
            int size = Math.toIntExact(block.parameterSize());
            NDList u = BlockMatrices.unflatten(m, block, rng.gaussians(size));
            NDList d = BlockMatrices.unflatten(m, block, rng.gaussians(size));
            Map<String, NDArray> grads;
            try (CurvatureBlock.Tape tape = block.qvTape(u)) {
                grads = tape.vjp(d);
            }
            // ⟨D, Q(λ)u⟩ is quadratic in each entry of L and of R (N = LLᵀ, M = RᵀR), so the
            // central difference is exact but for rounding, which a large h keeps small.
            double h = 1e-2;
            for (String name : new String[] {KroneckerBlock.L, KroneckerBlock.R}) {
                NDArray aux = block.getAuxParameters().get(name);
                int n = Math.toIntExact(aux.getShape().get(0));
                double[] analytic = Dense.values(grads.get(name));
                double[] base = Dense.values(aux);
                int half = n / 2;
                // entries in each kept block: top-left, top-right, bottom-right, and diagonals
                int[][] entries = {{0, 0}, {3, 17}, {half - 1, half - 1}, {2, half + 5},
                    {half - 1, n - 1}, {0, n - 1}, {half, half}, {half + 3, n - 2},
                    {n - 1, n - 1}, {half - 2, half + 1}};
                // rounding of the two evaluations, of size about |f| ε each, divided by 2h
                double f0 = Math.abs(objective(block, aux, base, 0, 0, u, d));
                double rounding = 100 * Math.ulp(1.0) * f0 / h;
                for (int[] e : entries) {
                    int i = e[0] * n + e[1];
                    double plus = objective(block, aux, base, i, h, u, d);
                    double minus = objective(block, aux, base, i, -h, u, d);
                    double numeric = (plus - minus) / (2 * h);
                    assertThat(Math.abs(analytic[i] - numeric))
                            .as("%s(%d, %d): analytic %s, numeric %s", name, e[0], e[1],
                                    analytic[i], numeric)
                            .isLessThan(rounding + 1e-9 * Math.abs(numeric));
                }
                LayerBlocksTest.setAux(block, aux, base);
            }
        }
    }

    private static double objective(
            CurvatureBlock block, NDArray aux, double[] base, int i, double h, NDList u, NDList d) {
        double[] x = base.clone();
        x[i] += h;
        LayerBlocksTest.setAux(block, aux, x);
        NDList q = block.qv(u);
        double f = Tensors.dot(d, q);
        q.close();
        return f;
    }

    private static NDArray array(NDManager m, double[][] a) {
        int n = a.length;
        double[] flat = new double[n * a[0].length];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, flat, i * a[0].length, a[0].length);
        }
        return Tensors.create(m, flat, new Shape(n, a[0].length), DataType.FLOAT64);
    }

    private static double[][] symmetric(double[][] g) {
        double[][] t = Dense.transpose(g);
        double[][] s = new double[g.length][g.length];
        for (int i = 0; i < g.length; i++) {
            for (int j = 0; j < g.length; j++) {
                s[i][j] = g[i][j] + t[i][j];
            }
        }
        return s;
    }
}
