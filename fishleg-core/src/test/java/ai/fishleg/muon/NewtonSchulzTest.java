package ai.fishleg.muon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import org.junit.jupiter.api.Test;

/**
 * Muon's Newton-Schulz orthogonalisation against independent computations in float64: the
 * quintic applied to each singular value (a matrix with known singular vectors), and the exact
 * polar factor UVᵀ of random matrices (Denman-Beavers square root, computed here): the result is
 * U S' Vᵀ with every S' in the band the coefficients are designed for.
 */
class NewtonSchulzTest {

    /** The band of singular values five iterations leave (Jordan et al.: about [0.7, 1.2]). */
    static final double LOW = 0.68;
    static final double HIGH = 1.21;

    /** p(x) = ax + bx³ + cx⁵, five times, on x / ‖s‖₂. */
    static double quintic5(double x) {
        for (int i = 0; i < 5; i++) {
            x = NewtonSchulz.A * x + NewtonSchulz.B * x * x * x + NewtonSchulz.C * x * x * x * x * x;
        }
        return x;
    }

    @Test
    void actsOnEachSingularValueAsTheQuintic() {
        // G = Π diag(s) Σ with Π a permutation and Σ signs: its singular values are s, its polar factor Π Σ
        double[] s = {0.9, 0.35, 0.05, 2.0};
        int[] perm = {2, 0, 3, 1};
        double[] sign = {1, -1, -1, 1};
        double norm = Math.sqrt(0.81 + 0.35 * 0.35 + 0.0025 + 4);
        double[] g = new double[4 * 5]; // 4 x 5: wide, one zero column
        double[] expected = new double[4 * 5];
        for (int i = 0; i < 4; i++) {
            g[perm[i] * 5 + i] = s[i] * sign[i];
            expected[perm[i] * 5 + i] = quintic5(s[i] / (norm + NewtonSchulz.NORM_EPS)) * sign[i];
        }
        try (NDManager m = NDManager.newBaseManager()) {
            double[] wide = Dense.values(NewtonSchulz.orthogonalize(array(m, g, 4, 5), 5));
            assertThat(Dense.relError(wide, expected)).isLessThan(1e-12);
            // the transposed matrix (tall) gives the transposed result
            double[][] tall = Dense.transpose(Dense.matrix(g, 4, 5));
            double[] out = Dense.values(NewtonSchulz.orthogonalize(array(m, flat(tall), 5, 4), 5));
            assertThat(Dense.relError(out, flat(Dense.transpose(Dense.matrix(expected, 4, 5)))))
                    .isLessThan(1e-12);
        }
    }

    @Test
    void approximatesThePolarFactorWithSingularValuesInTheBand() {
        Rng rng = new Rng(7);
        try (NDManager m = NDManager.newBaseManager()) {
            for (int[] size : new int[][] {{6, 12}, {12, 6}, {10, 25}, {3, 8}}) {
                int rows = size[0];
                int cols = size[1];
                double[] g = rng.gaussians(rows * cols);
                double[][] o = Dense.matrix(Dense.values(NewtonSchulz.orthogonalize(array(m, g, rows, cols), 5)),
                        rows, cols);
                double[][] gm = Dense.matrix(g, rows, cols);
                boolean wide = rows <= cols;
                // compare on the wide side: O Pᵀ = U S' Uᵀ, symmetric, eigenvalues = singular values of O
                double[][] ow = wide ? o : Dense.transpose(o);
                double[][] p = polar(wide ? gm : Dense.transpose(gm));
                double[][] oPt = Dense.mul(ow, Dense.transpose(p));
                assertThat(Dense.maxAbsDiff(oPt, Dense.transpose(oPt))).as("O Pᵀ symmetric, %dx%d", rows, cols)
                        .isLessThan(1e-9);
                for (double sv : Dense.eigenvalues(oPt)) {
                    assertThat(sv).as("singular value of the iterate, %dx%d", rows, cols).isBetween(LOW, HIGH);
                }
                // and so O is within the band of P itself
                assertThat(Dense.maxAbsDiff(ow, p)).isLessThan(0.33);
            }
        }
    }

    @Test
    void batchedMatricesAreOrthogonalisedOneByOne() {
        Rng rng = new Rng(3);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] g = rng.gaussians(3 * 4 * 7);
            NDArray batch = Tensors.create(m, g, new Shape(3, 4, 7), DataType.FLOAT64);
            double[] all = Dense.values(NewtonSchulz.orthogonalize(batch, 5));
            for (int b = 0; b < 3; b++) {
                double[] one = java.util.Arrays.copyOfRange(g, b * 28, (b + 1) * 28);
                double[] alone = Dense.values(NewtonSchulz.orthogonalize(array(m, one, 4, 7), 5));
                assertThat(Dense.relError(java.util.Arrays.copyOfRange(all, b * 28, (b + 1) * 28), alone))
                        .isLessThan(1e-12);
            }
        }
    }

    @Test
    void refusesVectors() {
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> NewtonSchulz.orthogonalize(m.ones(new Shape(4)), 5))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("matrices");
        }
    }

    static NDArray array(NDManager m, double[] v, int rows, int cols) {
        return Tensors.create(m, v, new Shape(rows, cols), DataType.FLOAT64);
    }

    static double[] flat(double[][] a) {
        double[] out = new double[a.length * a[0].length];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], 0, out, i * a[0].length, a[0].length);
        }
        return out;
    }

    /** The polar factor (GGᵀ)^(-1/2) G of a wide full-rank G, by Denman-Beavers on GGᵀ. */
    static double[][] polar(double[][] g) {
        double[][] y = Dense.mul(g, Dense.transpose(g));
        int n = y.length;
        double[][] z = identity(n);
        for (int i = 0; i < 60; i++) {
            double[][] yInv = Dense.inverse(y);
            double[][] zInv = Dense.inverse(z);
            y = half(y, zInv);
            z = half(z, yInv);
        }
        return Dense.mul(z, g); // z → (GGᵀ)^(-1/2)
    }

    static double[][] half(double[][] a, double[][] b) {
        double[][] out = new double[a.length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a.length; j++) {
                out[i][j] = 0.5 * (a[i][j] + b[i][j]);
            }
        }
        return out;
    }

    static double[][] identity(int n) {
        double[][] out = new double[n][n];
        for (int i = 0; i < n; i++) {
            out[i][i] = 1;
        }
        return out;
    }
}
