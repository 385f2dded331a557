package ai.fishleg.jmh;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import java.util.Map;
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
 * Qv of one curvature block per layer type, float32: Linear at the shapes of the Fashion-MNIST
 * auto-encoder (784-1000-500-250-30 mirrored), a Conv2d, BatchNorm, LayerNorm and an Embedding.
 * {@code qv} is the product the optimizer applies each step; {@code auxTape} is an auxiliary
 * update's share for the block (V = Q(λ)u with its vector-Jacobian product to λ). Run on demand
 * (see docs/PERFORMANCE.md), never as a test.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g", "-Dai.djl.offline=true"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class QvBenchmark {

    /** The layer (see {@link LayerUnderTest}). */
    @Param({
        "linear:784:1000", "linear:1000:500", "linear:500:250", "linear:250:30",
        "linear:30:250", "linear:250:500", "linear:500:1000", "linear:1000:784",
        "conv2d:16:32:5", "batchnorm:32", "layernorm:1000", "embedding:10000:128"
    })
    public String layer;

    /** Full Q (A learned) or the batchSpeedup form (Kronecker blocks without A). */
    @Param({"false", "true"})
    public boolean batchSpeedup;

    private LayerUnderTest subject;

    /** Builds the layer and its block. */
    @Setup(Level.Trial)
    public void setUp() {
        subject = new LayerUnderTest(
                layer, CurvatureOptions.DEFAULT.with(batchSpeedup ? CurvatureOptions.Form.KRONECKER : CurvatureOptions.Form.RESCALED), DataType.FLOAT32);
    }

    /** Frees the native memory. */
    @TearDown(Level.Trial)
    public void tearDown() {
        subject.close();
    }

    /**
     * @return a checksum-free marker (the product is closed at once)
     */
    @Benchmark
    public long qv() {
        try (NDManager scope = subject.manager.newSubManager()) {
            NDList out = subject.block.qv(subject.vector);
            out.attach(scope);
            return out.size();
        }
    }

    /**
     * @return the number of λ-gradients
     */
    @Benchmark
    public int auxTape() {
        CurvatureBlock block = subject.block;
        try (NDManager scope = subject.manager.newSubManager();
                CurvatureBlock.Tape tape = block.qvTape(subject.vector)) {
            Map<String, NDArray> grads = tape.vjp(subject.vector);
            for (NDArray g : grads.values()) {
                g.attach(scope);
            }
            // an update writes λ, which drops the cached factors; a write by 1 keeps λ's values
            block.state().scale(block.getAuxParameters().keySet().iterator().next(), 1.0);
            return grads.size();
        }
    }
}
