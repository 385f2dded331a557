package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The Kronecker start's factorisations ({@link KroneckerBlock#kroneckerStart}, by {@link
 * TriangularRoots}) in float64: a positive definite M ⊗ N is reproduced exactly by the block's Q
 * (the dense Q of {@link LayerBlocksTest}); a matrix that is indefinite by a rounding error is set
 * with a jitter and reproduced to that jitter; a clearly indefinite one leaves every factor of the
 * block as it was.
 */
class TriangularRootsTest {

    /** Without a bias, the block's parameter order is vec_r(U), the order of M ⊗ N. */
    static final LayerBlocksTest.Case LINEAR = new LayerBlocksTest.Case("Linear 3->4 without bias",
            () -> Linear.builder().setUnits(4).optBias(false).build(), new Shape(2, 3));

    /** A random symmetric positive definite n x n matrix, B Bᵀ + 0.5 I. */
    static double[][] spd(Rng rng, int n) {
        double[][] b = Dense.matrix(rng.gaussians(n * n), n, n);
        double[][] s = Dense.mul(b, Dense.transpose(b));
        for (int i = 0; i < n; i++) {
            s[i][i] += 0.5;
        }
        return s;
    }

    /** S − (λ_min(S) + shift) I: smallest eigenvalue −shift. */
    static double[][] shifted(double[][] s, double shift) {
        double lowest = Dense.minEigenvalue(s);
        double[][] out = new double[s.length][];
        for (int i = 0; i < s.length; i++) {
            out[i] = s[i].clone();
            out[i][i] -= lowest + shift;
        }
        return out;
    }

    static TriangularRoots.Outcome start(NDManager m, KroneckerBlock block, double[][] out,
            double[][] in) {
        return block.kroneckerStart(
                m.create(flat(out), new Shape(out.length, out.length)),
                m.create(flat(in), new Shape(in.length, in.length)));
    }

    @Test
    void positiveDefiniteFactorsAreReproducedExactly() {
        try (NDManager m = NDManager.newBaseManager()) {
            KroneckerBlock block = (KroneckerBlock) LayerBlocksTest.build(m, LINEAR,
                    CurvatureOptions.DEFAULT);
            Rng rng = new Rng(5);
            double[][] out = spd(rng, block.getRows());
            double[][] in = spd(rng, block.getCols());
            assertThat(start(m, block, out, in)).isEqualTo(TriangularRoots.Outcome.SET);
            double[][] q = LayerBlocksTest.denseQ(block);
            assertThat(Dense.maxAbsDiff(q, Dense.kron(out, in)) / Dense.maxAbs(q))
                    .isLessThan(1e-12);
        }
    }

    @Test
    void aMatrixIndefiniteByRoundingIsSetWithAJitter() {
        try (NDManager m = NDManager.newBaseManager()) {
            KroneckerBlock block = (KroneckerBlock) LayerBlocksTest.build(m, LINEAR,
                    CurvatureOptions.DEFAULT);
            Rng rng = new Rng(6);
            double[][] out = spd(rng, block.getRows());
            double[][] in = shifted(spd(rng, block.getCols()), 1e-9);
            assertThat(Dense.minEigenvalue(in)).isNegative();
            assertThat(start(m, block, out, in)).isEqualTo(TriangularRoots.Outcome.SET_WITH_JITTER);
            double[][] q = LayerBlocksTest.denseQ(block);
            // the largest jitter is 1e-4 of N's mean diagonal
            assertThat(Dense.maxAbsDiff(q, Dense.kron(out, in)) / Dense.maxAbs(q))
                    .isLessThan(1e-3);
        }
    }

    @Test
    void aClearlyIndefiniteMatrixLeavesTheBlockAsItWas() {
        try (NDManager m = NDManager.newBaseManager()) {
            KroneckerBlock block = (KroneckerBlock) LayerBlocksTest.build(m, LINEAR,
                    CurvatureOptions.DEFAULT);
            LayerBlocksTest.randomizeAux(block, new Rng(7));
            List<double[]> before = List.of(Dense.values(block.getR()),
                    Dense.values(block.getL()), Dense.values(block.getA()));
            Rng rng = new Rng(8);
            double[][] out = shifted(spd(rng, block.getRows()), 0.5);
            double[][] in = spd(rng, block.getCols());
            assertThat(start(m, block, out, in)).isEqualTo(TriangularRoots.Outcome.KEPT);
            assertThat(Dense.values(block.getR())).containsExactly(before.get(0));
            assertThat(Dense.values(block.getL())).containsExactly(before.get(1));
            assertThat(Dense.values(block.getA())).containsExactly(before.get(2));
        }
    }

    /** Row-major flattening. */
    static double[] flat(double[][] a) {
        double[] out = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, out, i * a[0].length, a[0].length);
        }
        return out;
    }
}
