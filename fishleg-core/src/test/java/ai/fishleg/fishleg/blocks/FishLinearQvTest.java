package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.curvature.Bias;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * FishLinear's Q against an explicitly built dense matrix: Q = D_A (RᵀR ⊗ LLᵀ) D_A on vec_r([W | b])
 * (without A under batchSpeedup), for random shapes and random λ, with and without bias, full
 * true/false.
 */
class FishLinearQvTest {

    static Stream<Arguments> cases() {
        Rng rng = new Rng(42);
        Stream.Builder<Arguments> b = Stream.builder();
        for (int trial = 0; trial < 4; trial++) {
            int in = 1 + rng.nextInt(5);
            int out = 1 + rng.nextInt(4);
            for (boolean bias : new boolean[] {true, false}) {
                for (CurvatureOptions o :
                        new CurvatureOptions[] {
                            CurvatureOptions.DEFAULT,
                            CurvatureOptions.DEFAULT.with(CurvatureOptions.Rescaling.FROZEN),
                            CurvatureOptions.DEFAULT.with(CurvatureOptions.Form.KRONECKER)
                        }) {
                    b.add(Arguments.of(in, out, bias, o, 1000L + trial));
                }
            }
        }
        return b.build();
    }

    /** Random λ written into the block (L, R not triangular: Q must be PSD for any λ). */
    static void randomizeAux(KroneckerBlock block, Rng rng) {
        for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
            NDArray a = e.getValue();
            double[] v = rng.gaussians(Math.toIntExact(a.size()));
            try (NDArray r = Tensors.create(a.getManager(), v, a.getShape(), a.getDataType())) {
                block.state().assign(e.getKey(), r);
            }
        }
    }

    /** Dense Q of a Kronecker block from its λ, independent of the library's Qv. */
    static double[][] denseQ(KroneckerBlock block, boolean inTransposed) {
        int rows = block.getRows();
        int cols = block.getCols();
        double[][] l = Dense.matrix(Dense.values(block.getL()), cols, cols);
        double[][] r = Dense.matrix(Dense.values(block.getR()), rows, rows);
        double[] a = Dense.values(block.getA());
        double[][] m = Dense.mul(Dense.transpose(r), r);
        double[][] n = inTransposed ? Dense.mul(Dense.transpose(l), l) : Dense.mul(l, Dense.transpose(l));
        double[][] q = Dense.kron(m, n); // vec_r(M X N) = (M ⊗ Nᵀ) vec_r(X), N symmetric
        if (block.usesA()) {
            for (int i = 0; i < q.length; i++) {
                for (int j = 0; j < q.length; j++) {
                    q[i][j] *= a[i] * a[j];
                }
            }
        }
        return q;
    }

    static NDList randomVector(NDManager m, FishLinear block, Rng rng) {
        NDList v = new NDList();
        int out = block.getOutFeatures();
        v.add(Tensors.create(m, rng.gaussians(out * block.getInFeatures()),
                new Shape(out, block.getInFeatures()), DataType.FLOAT64));
        if (block.hasBias()) {
            v.add(Tensors.create(m, rng.gaussians(out), new Shape(out), DataType.FLOAT64));
        }
        return v;
    }

    /** vec_r([W | b]) of a block vector. */
    static double[] vecU(FishLinear block, NDList v) {
        int out = block.getOutFeatures();
        int in = block.getInFeatures();
        int k = block.getCols();
        double[] w = Dense.values(v.get(0));
        double[] u = new double[out * k];
        for (int i = 0; i < out; i++) {
            System.arraycopy(w, i * in, u, i * k, in);
            if (block.hasBias()) {
                u[i * k + in] = Dense.values(v.get(1))[i];
            }
        }
        return u;
    }

    /**
     * Blocks large enough ({@link KroneckerBlock#TRIANGULAR_SPLIT_FROM}) for the factors' Gram
     * matrices RᵀR and LLᵀ to be assembled from
     * half-size products when L and R are block upper triangular (as the masks keep them), and the
     * plain product otherwise: Qv against M X N computed here in plain Java.
     */
    @ParameterizedTest(name = "triangular={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void largeBlocksMatchTheProductOfTheFactors(boolean triangular) {
        int in = KroneckerBlock.TRIANGULAR_SPLIT_FROM + 9;
        int out = KroneckerBlock.TRIANGULAR_SPLIT_FROM;
        Rng rng = new Rng(23);
        try (NDManager m = NDManager.newBaseManager();
                FishLinear block = new FishLinear(in, out, Bias.WITH, m, DataType.FLOAT64,
                        CurvatureOptions.DEFAULT)) {
            randomizeAux(block, rng);
            int k = block.getCols();
            double[][] l = Dense.matrix(Dense.values(block.getL()), k, k);
            double[][] r = Dense.matrix(Dense.values(block.getR()), out, out);
            if (triangular) {
                zeroBelowDiagonal(l);
                zeroBelowDiagonal(r);
                set(block, KroneckerBlock.L, l);
                set(block, KroneckerBlock.R, r);
            }
            double[][] mm = Dense.mul(Dense.transpose(r), r);
            double[][] nn = Dense.mul(l, Dense.transpose(l));
            double[] a = Dense.values(block.getA());
            NDList v = randomVector(m, block, rng);
            double[][] x = Dense.matrix(vecU(block, v), out, k);
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < k; j++) {
                    x[i][j] *= a[i * k + j];
                }
            }
            double[][] y = Dense.mul(Dense.mul(mm, x), nn);
            double[] expected = new double[out * k];
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < k; j++) {
                    expected[i * k + j] = y[i][j] * a[i * k + j];
                }
            }
            assertThat(Dense.relError(vecU(block, block.qv(v)), expected)).isLessThan(1e-12);
        }
    }

    private static void zeroBelowDiagonal(double[][] f) {
        for (int i = 0; i < f.length; i++) {
            for (int j = 0; j < i; j++) {
                f[i][j] = 0;
            }
        }
    }

    private static void set(KroneckerBlock block, String name, double[][] f) {
        double[] flat = new double[f.length * f.length];
        for (int i = 0; i < f.length; i++) {
            System.arraycopy(f[i], 0, flat, i * f.length, f.length);
        }
        BlockMatrices.setAux(block, name, flat);
    }

    @ParameterizedTest(name = "in={0} out={1} bias={2} {3}")
    @MethodSource("cases")
    void qvEqualsDenseMatrixAndIsSymmetricPsd(
            int in, int out, boolean bias, CurvatureOptions options, long seed) {
        Rng rng = new Rng(seed);
        try (NDManager m = NDManager.newBaseManager();
                FishLinear block = new FishLinear(in, out, Bias.of(bias), m, DataType.FLOAT64, options)) {
            randomizeAux(block, rng);
            double[][] q = denseQ(block, false);
            NDList v = randomVector(m, block, rng);
            NDList qv = block.qv(v);
            assertThat(qv.size()).isEqualTo(bias ? 2 : 1);
            assertThat(qv.get(0).getShape()).isEqualTo(new Shape(out, in));
            double[] expected = Dense.apply(q, vecU(block, v));
            assertThat(Dense.relError(vecU(block, qv), expected)).isLessThan(1e-12);

            // The tape's V is the same product.
            try (CurvatureBlock.Tape tape = block.qvTape(v)) {
                assertThat(Dense.relError(vecU(block, tape.v()), expected)).isLessThan(1e-12);
            }
            // Symmetric and PSD for any λ.
            assertThat(Dense.maxAbsDiff(q, Dense.transpose(q))).isLessThan(1e-12);
            double scaleOfQ = 0;
            for (double[] row : q) {
                for (double x : row) {
                    scaleOfQ = Math.max(scaleOfQ, Math.abs(x));
                }
            }
            assertThat(Dense.minEigenvalue(q)).isGreaterThan(-1e-10 * Math.max(1, scaleOfQ));
            // ⟨w, Qv⟩ = ⟨v, Qw⟩ through the library.
            NDList w = randomVector(m, block, rng);
            NDList qw = block.qv(w);
            assertThat(Dense.dot(vecU(block, w), vecU(block, qv)))
                    .isCloseTo(Dense.dot(vecU(block, v), vecU(block, qw)),
                            org.assertj.core.data.Offset.offset(1e-9 * (1 + scaleOfQ)));
        }
    }

    @ParameterizedTest(name = "in={0} out={1} bias={2} {3}")
    @MethodSource("cases")
    void diagQIsTheDiagonalOfTheDenseMatrix(
            int in, int out, boolean bias, CurvatureOptions options, long seed) {
        Rng rng = new Rng(seed + 7);
        try (NDManager m = NDManager.newBaseManager();
                FishLinear block = new FishLinear(in, out, Bias.of(bias), m, DataType.FLOAT64, options)) {
            randomizeAux(block, rng);
            double[][] q = denseQ(block, false);
            double[] diag = vecU(block, block.diagQ());
            for (int i = 0; i < q.length; i++) {
                assertThat(diag[i]).isCloseTo(q[i][i], org.assertj.core.data.Offset.offset(1e-10));
            }
        }
    }

    @ParameterizedTest(name = "in={0} out={1} bias={2} {3}")
    @MethodSource("cases")
    void warmupWithoutDataGivesScaledIdentity(
            int in, int out, boolean bias, CurvatureOptions options, long seed) {
        Rng rng = new Rng(seed + 11);
        double s = 0.5 + rng.nextDouble() * 3;
        try (NDManager m = NDManager.newBaseManager();
                FishLinear block = new FishLinear(in, out, Bias.of(bias), m, DataType.FLOAT64, options)) {
            block.warmup(null, s);
            NDList v = randomVector(m, block, rng);
            double[] expected = vecU(block, v);
            for (int i = 0; i < expected.length; i++) {
                expected[i] *= s;
            }
            assertThat(Dense.relError(vecU(block, block.qv(v)), expected)).isLessThan(1e-12);
        }
    }

    @ParameterizedTest(name = "in={0} out={1} bias={2} {3}")
    @MethodSource("cases")
    void warmupWithValuesSetsTheDiagonal(
            int in, int out, boolean bias, CurvatureOptions options, long seed) {
        Rng rng = new Rng(seed + 13);
        try (NDManager m = NDManager.newBaseManager();
                FishLinear block = new FishLinear(in, out, Bias.of(bias), m, DataType.FLOAT64, options)) {
            NDList d = randomVector(m, block, rng);
            // positive d, as the warm-up's s/sqrt(g² + γ)
            NDList positive = new NDList();
            for (NDArray x : d) {
                positive.add(x.abs().add(0.1));
            }
            block.warmup(positive, 1.0);
            double[] dd = vecU(block, positive);
            double[] diag = vecU(block, block.diagQ());
            if (block.usesA()) {
                for (int i = 0; i < dd.length; i++) { // diag(Q0) = d² exactly
                    assertThat(diag[i]).isCloseTo(dd[i] * dd[i], org.assertj.core.data.Offset.offset(1e-12));
                }
            } else {
                // Kronecker-only: the nearest rank-one fit of d², exact when d² is rank one.
                double[] target = new double[dd.length];
                for (int i = 0; i < dd.length; i++) {
                    target[i] = dd[i] * dd[i];
                }
                double fit = Dense.relError(diag, target);
                assertThat(fit).isLessThan(1.0);
                int rows = block.getRows();
                int cols = block.getCols();
                double[] ra = new double[rows];
                double[] cb = new double[cols];
                for (int i = 0; i < rows; i++) {
                    ra[i] = 0.5 + rng.nextDouble();
                }
                for (int j = 0; j < cols; j++) {
                    cb[j] = 0.5 + rng.nextDouble();
                }
                double[] rankOne = new double[rows * cols];
                for (int i = 0; i < rows; i++) {
                    for (int j = 0; j < cols; j++) {
                        rankOne[i * cols + j] = Math.sqrt(ra[i] * cb[j]);
                    }
                }
                NDArray mat = Tensors.create(m, rankOne, new Shape(rows, cols), DataType.FLOAT64);
                NDList dv = block.getLayout().fromMatrix(mat);
                try (FishLinear fresh = new FishLinear(in, out, Bias.of(bias), m, DataType.FLOAT64, options)) {
                    fresh.warmup(dv, 1.0);
                    double[] diag2 = vecU(fresh, fresh.diagQ());
                    double[] want = new double[rows * cols];
                    for (int i = 0; i < want.length; i++) {
                        want[i] = rankOne[i] * rankOne[i];
                    }
                    assertThat(Dense.relError(diag2, want)).isLessThan(1e-9);
                }
            }
        }
    }
}
