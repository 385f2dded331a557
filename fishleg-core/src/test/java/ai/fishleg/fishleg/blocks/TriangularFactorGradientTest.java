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
 * The factor gradients of FishLinear's triangular L and R, which the tape computes block-wise (five
 * half-size products for the part the upper-triangular mask keeps) at sizes where that path is
 * taken ({@link KroneckerBlock#TRIANGULAR_SPLIT_FROM} and more): on every entry the mask keeps
 * against plain products (also for dense factors, which take the plain product), and against
 * central finite differences of λ ↦ ⟨D, Q(λ)u⟩. Through the blocks' public API.
 */
class TriangularFactorGradientTest {

    @ParameterizedTest(name = "L and R upper triangular: {0}")
    @CsvSource({"true", "false"})
    void maskedFactorGradientsOfALargeLinearLayerEqualThePlainProducts(boolean triangular) {
        try (NDManager m = NDManager.newBaseManager()) {
            // L is (in + 1) x (in + 1) and R is out x out, both beyond the split size; a dense
            // factor (no zero block) takes the plain product
            int in = KroneckerBlock.TRIANGULAR_SPLIT_FROM + 61;
            int out = KroneckerBlock.TRIANGULAR_SPLIT_FROM;
            Linear layer = Linear.builder().setUnits(out).build();
            layer.initialize(m, DataType.FLOAT64, new Shape(2, in));
            FishLinear block = FishLinear.forLayer("big", layer, m, CurvatureOptions.DEFAULT);
            Rng rng = new Rng(triangular ? 5 : 6);
            for (String name : new String[] {KroneckerBlock.L, KroneckerBlock.R, KroneckerBlock.A}) {
                NDArray aux = block.getAuxParameters().get(name);
                long cols = aux.getShape().get(1);
                double[] v = Dense.values(aux);
                double[] z = rng.gaussians(v.length);
                for (int i = 0; i < v.length; i++) {
                    boolean kept = !triangular || KroneckerBlock.A.equals(name)
                            || i % cols >= i / cols;
                    v[i] += kept ? 0.3 * z[i] : 0;
                }
                BlockMatrices.setAux(block, name, v);
            }
            int size = Math.toIntExact(block.parameterSize());
            NDList u = BlockMatrices.unflatten(m, block, rng.gaussians(size));
            NDList d = BlockMatrices.unflatten(m, block, rng.gaussians(size));
            Map<String, NDArray> grads;
            try (CurvatureBlock.Tape tape = block.qvTape(u)) {
                grads = tape.vjp(d);
            }
            // ⟨D, A ⊙ (M (A ⊙ U) N)⟩ with M = RᵀR, N = LLᵀ: with X = A ⊙ U and P = D ⊙ A, the
            // gradient of N is Xᵀ M P, that of M is P N Xᵀ; of L (∂N + ∂Nᵀ) L, of R R(∂M + ∂Mᵀ),
            // here by plain products
            NDArray l = block.getL();
            NDArray r = block.getR();
            NDArray a = block.getA();
            NDArray x = block.getLayout().toMatrix(u).mul(a);
            NDArray p = block.getLayout().toMatrix(d).mul(a);
            NDArray bigM = r.transpose().matMul(r);
            NDArray bigN = l.matMul(l.transpose());
            NDArray dn = x.transpose().matMul(bigM).matMul(p);
            NDArray dm = p.matMul(bigN).matMul(x.transpose());
            Map<String, NDArray> expected = Map.of(
                    KroneckerBlock.L, dn.add(dn.transpose()).matMul(l),
                    KroneckerBlock.R, r.matMul(dm.add(dm.transpose())));
            for (var e : expected.entrySet()) {
                int n = Math.toIntExact(e.getValue().getShape().get(0));
                assertThat(grads.get(e.getKey()).getShape()).isEqualTo(e.getValue().getShape());
                double[][] want = Dense.matrix(Dense.values(e.getValue()), n, n);
                double[][] got = Dense.matrix(Dense.values(grads.get(e.getKey())), n, n);
                double worst = 0;
                String where = "";
                for (int i = 0; i < n; i++) {
                    for (int j = i; j < n; j++) { // the part the upper-triangular mask keeps
                        double diff = Math.abs(got[i][j] - want[i][j]);
                        if (!(diff <= worst)) {
                            worst = diff;
                            where = e.getKey() + "(" + i + ", " + j + ")";
                        }
                    }
                }
                assertThat(worst).as("largest difference, at " + where)
                        .isLessThan(1e-11 * Dense.maxAbs(want));
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
                BlockMatrices.setAux(block, name, v);
            }
            NDArray a = block.getA();
            double[] av = Dense.values(a);
            double[] za = rng.gaussians(av.length);
            for (int i = 0; i < av.length; i++) {
                av[i] += 0.3 * za[i];
            }
            BlockMatrices.setAux(block, KroneckerBlock.A, av);
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
                double f0 = Math.abs(objective(block, name, base, 0, 0, u, d));
                double rounding = 100 * Math.ulp(1.0) * f0 / h;
                for (int[] e : entries) {
                    int i = e[0] * n + e[1];
                    double plus = objective(block, name, base, i, h, u, d);
                    double minus = objective(block, name, base, i, -h, u, d);
                    double numeric = (plus - minus) / (2 * h);
                    assertThat(Math.abs(analytic[i] - numeric))
                            .as("%s(%d, %d): analytic %s, numeric %s", name, e[0], e[1],
                                    analytic[i], numeric)
                            .isLessThan(rounding + 1e-9 * Math.abs(numeric));
                }
                BlockMatrices.setAux(block, name, base);
            }
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
