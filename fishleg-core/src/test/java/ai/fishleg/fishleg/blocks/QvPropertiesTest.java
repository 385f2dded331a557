package ai.fishleg.fishleg.blocks;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import ai.fishleg.curvature.Bias;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.LayerModels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Property-based: for random shapes and random λ of every supported layer type, Q is symmetric
 * (⟨w, Qv⟩ = ⟨v, Qw⟩) and positive semi-definite (⟨v, Qv⟩ ≥ 0, and the dense matrix built from Qv
 * on unit vectors has no negative eigenvalue).
 */
class QvPropertiesTest {

    /** A way to build a detached block of some layer type from random shape numbers. */
    record Layer(String description, BiFunction<NDManager, int[], CurvatureBlock> build, int[] dims) {
        @Override
        public String toString() {
            return description + java.util.Arrays.toString(dims);
        }
    }

    @Provide
    Arbitrary<Layer> layers() {
        Arbitrary<Integer> small = Arbitraries.integers().between(1, 5);
        Arbitrary<Layer> linear = Combinators.combine(small, small, Arbitraries.of(true, false),
                Arbitraries.of(CurvatureOptions.DEFAULT, CurvatureOptions.DEFAULT.with(CurvatureOptions.Rescaling.FROZEN),
                        CurvatureOptions.DEFAULT.with(CurvatureOptions.Form.KRONECKER)))
                .as((in, out, bias, options) -> new Layer("Linear bias=" + bias + " " + options,
                        (m, d) -> new FishLinear(d[0], d[1], Bias.of(bias), m, DataType.FLOAT64, options),
                        new int[] {in, out}));
        Arbitrary<Integer> groups = Arbitraries.of(1, 2);
        Arbitrary<Layer> conv = Combinators.combine(groups, small, small, Arbitraries.integers()
                        .between(1, 3), Arbitraries.integers().between(1, 2), Arbitraries.of(true, false))
                .as((g, inPerGroup, outPerGroup, kh, kw, bias) -> new Layer(
                        "Conv2d groups=" + g + " bias=" + bias,
                        (m, d) -> {
                            Conv2d layer = Conv2d.builder().setFilters(d[1]).optGroups(d[4])
                                    .setKernelShape(new Shape(d[2], d[3])).optBias(bias).build();
                            layer.initialize(m, DataType.FLOAT64, new Shape(1, d[0], 4, 4));
                            return FishConvolution.forLayer("conv", layer, m, CurvatureOptions.DEFAULT);
                        },
                        new int[] {g * inPerGroup, g * outPerGroup, kh, kw, g}));
        Arbitrary<Layer> batchNorm = small.map(c -> new Layer("BatchNorm",
                (m, d) -> {
                    BatchNorm layer = BatchNorm.builder().build();
                    layer.initialize(m, DataType.FLOAT64, new Shape(2, d[0], 3));
                    return FishNormalization.forLayer("bn", layer, m, CurvatureOptions.DEFAULT);
                },
                new int[] {c}));
        Arbitrary<Layer> layerNorm = small.map(c -> new Layer("LayerNorm",
                (m, d) -> {
                    LayerNorm layer = LayerNorm.builder().build();
                    layer.initialize(m, DataType.FLOAT64, new Shape(2, d[0]));
                    return FishNormalization.forLayer("ln", layer, m, CurvatureOptions.DEFAULT);
                },
                new int[] {c}));
        Arbitrary<Layer> embedding = Combinators.combine(small, small, Arbitraries.of(true, false))
                .as((rows, dim, full) -> new Layer("Embedding full=" + full,
                        (m, d) -> {
                            var layer = LayerModels.embedding(d[0], d[1]);
                            layer.initialize(m, DataType.FLOAT64, new Shape(2));
                            return FishEmbedding.forLayer("emb", layer, m, CurvatureOptions.DEFAULT.with(full ? CurvatureOptions.Rescaling.LEARNED : CurvatureOptions.Rescaling.FROZEN));
                        },
                        new int[] {rows, dim}));
        return Arbitraries.oneOf(linear, conv, batchNorm, layerNorm, embedding);
    }

    /** Random λ; blocks are then used through their public Qv only. */
    static void randomizeAux(CurvatureBlock block, Rng rng) {
        for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
            NDArray a = e.getValue();
            try (NDArray r = Tensors.create(a.getManager(), rng.gaussians(Math.toIntExact(a.size())),
                    a.getShape(), a.getDataType())) {
                block.state().assign(e.getKey(), r);
            }
        }
    }

    /** Shapes of a block's vectors, probed through diagQ (shaped like the parameters). */
    static List<ai.djl.ndarray.types.Shape> shapes(CurvatureBlock block) {
        List<ai.djl.ndarray.types.Shape> out = new ArrayList<>();
        for (NDArray d : block.diagQ()) {
            out.add(d.getShape());
        }
        return out;
    }

    static NDList vector(NDManager m, List<ai.djl.ndarray.types.Shape> shapes, double[] flat) {
        NDList v = new NDList();
        int o = 0;
        for (ai.djl.ndarray.types.Shape s : shapes) {
            int n = (int) s.size();
            v.add(Tensors.create(m, java.util.Arrays.copyOfRange(flat, o, o + n), s, DataType.FLOAT64));
            o += n;
        }
        return v;
    }

    @Property(tries = 150)
    void qIsSymmetricPositiveSemiDefinite(@ForAll("layers") Layer layer, @ForAll long seed) {
        Rng rng = new Rng(seed);
        try (NDManager m = NDManager.newBaseManager();
                CurvatureBlock block = layer.build().apply(m, layer.dims())) {
            randomizeAux(block, rng);
            List<ai.djl.ndarray.types.Shape> shapes = shapes(block);
            int n = shapes.stream().mapToInt(s -> (int) s.size()).sum();
            double[][] q = new double[n][];
            for (int j = 0; j < n; j++) {
                double[] e = new double[n];
                e[j] = 1;
                q[j] = Dense.flatten(block.qv(vector(m, shapes, e))); // column j (= row j if symmetric)
            }
            double scale = 1e-12;
            for (double[] row : q) {
                for (double x : row) {
                    scale = Math.max(scale, Math.abs(x));
                }
            }
            assertThat(Dense.maxAbsDiff(q, Dense.transpose(q))).isLessThanOrEqualTo(1e-10 * scale);
            assertThat(Dense.minEigenvalue(q)).isGreaterThanOrEqualTo(-1e-9 * scale);
            double[] v = rng.gaussians(n);
            double[] w = rng.gaussians(n);
            double[] qv = Dense.flatten(block.qv(vector(m, shapes, v)));
            double[] qw = Dense.flatten(block.qv(vector(m, shapes, w)));
            assertThat(Dense.dot(w, qv)).isCloseTo(Dense.dot(v, qw),
                    org.assertj.core.data.Offset.offset(1e-9 * scale * n));
            assertThat(Dense.dot(v, qv)).isGreaterThanOrEqualTo(-1e-9 * scale * n);
        }
    }
}
