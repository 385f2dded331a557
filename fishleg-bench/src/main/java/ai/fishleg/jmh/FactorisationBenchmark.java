package ai.fishleg.jmh;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.linalg.SymmetricMatrices;
import ai.fishleg.util.Rng;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The factorisations of a K-FAC factor renewal, at the factor sizes of the Fashion-MNIST
 * auto-encoder (k = fan-in + 1, o = fan-out): the hand-written Cholesky FishLeg's Kronecker start
 * used before EJML ({@link #handWrittenCholesky}, kept here as the "before"), EJML's Cholesky
 * (the Kronecker start now), EJML's symmetric eigendecomposition (K-FAC's EIGEN damping) and the
 * engine's float32 inverse (K-FAC's FACTORED damping). Run on demand (docs/PENDING-TIMINGS.md),
 * never as a test.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-Dai.djl.offline=true"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class FactorisationBenchmark {

    /** The side of the symmetric positive definite matrix. */
    @Param({"31", "251", "501", "785", "1001"})
    public int n;

    private double[] matrix;
    private NDManager manager;
    private NDArray array;

    /** A random symmetric positive definite matrix, B Bᵀ/n + 0.03 I. */
    @Setup(Level.Trial)
    public void setUp() {
        double[] b = new Rng(n).gaussians(n * n);
        matrix = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += b[i * n + k] * b[j * n + k];
                }
                matrix[i * n + j] = s / n;
                matrix[j * n + i] = s / n;
            }
            matrix[i * n + i] += 0.03;
        }
        manager = NDManager.newBaseManager();
        array = manager.create(matrix, new Shape(n, n)).toType(DataType.FLOAT32, false);
    }

    /** Frees the native memory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
    }

    /** @return the Cholesky factor, by the hand-written Cholesky–Banachiewicz loop */
    @Benchmark
    public double[] handWrittenCholesky() {
        double[] c = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = matrix[i * n + j];
                for (int k = 0; k < j; k++) {
                    sum -= c[i * n + k] * c[j * n + k];
                }
                c[i * n + j] = i == j ? Math.sqrt(sum) : sum / c[j * n + j];
            }
        }
        return c;
    }

    /** @return the Cholesky factor, by EJML */
    @Benchmark
    public Optional<double[]> ejmlCholesky() {
        return SymmetricMatrices.lowerCholesky(matrix, n);
    }

    /** @return the eigendecomposition, by EJML */
    @Benchmark
    public Optional<SymmetricMatrices.Eigen> ejmlEigen() {
        return SymmetricMatrices.eigen(matrix, n);
    }

    /** @return the side of the float32 inverse, by the engine */
    @Benchmark
    public long engineInverse() {
        try (NDArray inv = array.inverse()) {
            return inv.getShape().get(0);
        }
    }
}
