package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.FishLinear;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * batchSpeedup with {@link RecordingLinear} layers: Q is applied to the recorded factors of the
 * gradient, (RᵀR Goutᵀ)(Â LLᵀ), and auxiliary updates differentiate that product in factored form.
 * Every result must equal the dense computation on the formed gradient (plain {@link Linear}
 * layers), and a record that does not match the gradient must not be used.
 */
class RecordingLinearTest {

    static final int B = 6;

    /** (B, 2, 5) -> Linear 4 -> tanh -> flatten -> Linear 40 -> tanh -> Linear 3. */
    static SequentialBlock model(NDManager m, boolean recording) {
        Supplier<Linear.Builder> linear = recording ? RecordingLinear::builder : Linear::builder;
        SequentialBlock net = new SequentialBlock()
                .add(linear.get().setUnits(4).build())
                .add(Activation::tanh)
                .add(Blocks.batchFlattenBlock())
                .add(linear.get().setUnits(40).build())
                .add(Activation::tanh)
                .add(linear.get().setUnits(3).build());
        Engine.getInstance().setRandomSeed(5);
        net.initialize(m, DataType.FLOAT64, new Shape(1, 2, 5));
        return net;
    }

    static LabeledBatch batch(NDManager m, Rng rng) {
        NDArray x = m.create(rng.gaussians(B * 2 * 5), new Shape(B, 2, 5));
        NDArray y = m.create(rng.gaussians(B * 3), new Shape(B, 3));
        return LabeledBatch.of(x, y);
    }

    /** Runs steps of FishLeg on a model and returns its parameters and λ, flattened. */
    static double[] train(NDManager m, boolean recording, boolean staleRecord, int[] factored) {
        Block net = model(m, recording);
        Rng rng = new Rng(8);
        List<LabeledBatch> aux = List.of(batch(m, rng), batch(m, rng));
        FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(0.7);
        NllFunction nll = NllFunction.of(likelihood);
        try (FishLeg opt = FishLeg.builder(net, DrawFunction.of(likelihood), nll,
                        BatchSources.cycle(aux))
                .batchSpeedup(true).updateAuxEvery(2).auxLr(0.05).fishLr(0.1).scale(2).build()) {
            for (int step = 0; step < 5; step++) {
                LabeledBatch b = batch(m, rng);
                try (NDManager s = m.newSubManager()) {
                    opt.zeroGrad();
                    if (staleRecord) {
                        // A pass whose gradient is then cleared without zeroGrad(): the record
                        // holds it, the gradient does not.
                        backward(opt, net, nll, b);
                        for (CurvatureBlock blk : opt.getBlocks()) {
                            for (NDArray p : blk.getParameterArrays()) {
                                try (NDArray g = p.getGradient()) {
                                    Tensors.zero(g);
                                }
                            }
                        }
                    }
                    backward(opt, net, nll, b);
                    opt.step();
                    factored[0] += opt.lastStep().orElseThrow().factoredBlocks();
                }
            }
            List<Double> out = new ArrayList<>();
            for (CurvatureBlock blk : opt.getBlocks()) {
                for (NDArray p : blk.getParameterArrays()) {
                    for (double v : Dense.values(p)) {
                        out.add(v);
                    }
                }
                for (NDArray a : blk.getAuxParameters().values()) {
                    for (double v : Dense.values(a)) {
                        out.add(v);
                    }
                }
            }
            return out.stream().mapToDouble(Double::doubleValue).toArray();
        }
    }

    static void backward(FishLeg opt, Block net, NllFunction nll, LabeledBatch b) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(nll.nll(net, b));
        }
    }

    @Test
    void factoredTrainingEqualsDenseTraining() {
        try (NDManager m = NDManager.newBaseManager()) {
            int[] none = {0};
            int[] used = {0};
            double[] dense = train(m, false, false, none);
            double[] factored = train(m, true, false, used);
            assertThat(none[0]).isZero();
            // The wide middle layer (40 x 9, batch 6) pays off on all 5 steps; the others do not.
            assertThat(used[0]).isEqualTo(5);
            assertThat(Dense.relError(factored, dense)).isLessThan(1e-10);
        }
    }

    @Test
    void aRecordThatDoesNotMatchTheGradientIsNotUsed() {
        try (NDManager m = NDManager.newBaseManager()) {
            int[] none = {0};
            int[] used = {0};
            double[] dense = train(m, false, true, none);
            double[] stale = train(m, true, true, used);
            assertThat(used[0]).isZero();
            assertThat(Dense.relError(stale, dense)).isLessThan(1e-10);
        }
    }

    /**
     * The factored products against the dense ones on the formed gradient, for a shape where the
     * factor gradients stay low-rank (wide layer, small batch) and one where they are formed
     * densely (narrow layer, larger batch).
     */
    @Test
    void factoredTapeEqualsTheDenseTape() {
        for (int[] shape : new int[][] {{30, 40, 3}, {4, 5, 10}}) {
            try (NDManager m = NDManager.newBaseManager()) {
                int in = shape[0];
                int out = shape[1];
                int n = shape[2];
                Block layer = RecordingLinear.builder().setUnits(out).build();
                layer.initialize(m, DataType.FLOAT64, new Shape(1, in));
                FishLinear block = (FishLinear) ai.fishleg.fishleg.blocks.LayerRegistry.factoryFor(layer)
                        .create("", layer, m, ai.fishleg.fishleg.blocks.CurvatureOptions.DEFAULT.with(
                                ai.fishleg.fishleg.blocks.CurvatureOptions.Form.KRONECKER));
                Rng rng = new Rng(17);
                for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                    NDArray a = e.getValue();
                    try (NDArray r = Tensors.create(m, rng.gaussians((int) a.size()), a.getShape(),
                            DataType.FLOAT64);
                            NDArray step = r.mul(0.3);
                            NDArray moved = a.add(step)) {
                        block.state().assign(e.getKey(), moved);
                    }
                }
                // every pass, also where the factors do not pay off (block.startRecording would
                // record only passes small enough for them to pay off)
                ai.fishleg.curvature.LayerRecords.startRecording(layer);
                NDArray x = m.create(rng.gaussians(n * in), new Shape(n, in));
                NDArray w = m.create(rng.gaussians(n * out), new Shape(n, out));
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = layer.forward(
                            new ai.djl.training.ParameterStore(m, false), new NDList(x), true)
                            .head();
                    gc.backward(y.mul(w).sum());
                }
                NDList grad = new NDList();
                for (NDArray p : block.getParameterArrays()) {
                    grad.add(p.getGradient());
                }
                try (Scope s = Scope.open(m);
                        FishLinear.GradientFactors f = block.recordedFactors(s.manager())) {
                    assertThat(f.rows()).isEqualTo(n);
                    double[] mismatch = Dense.values(block.factorMismatch(f, grad));
                    assertThat(mismatch[0]).isLessThan(1e-20 * mismatch[1]);
                    assertClose(block.qg(f), block.qv(grad), "Qg");
                    NDList d = new NDList();
                    for (NDArray p : grad) {
                        d.add(m.create(rng.gaussians((int) p.size()), p.getShape()));
                    }
                    try (CurvatureBlock.Tape factored = block.factoredTape(f);
                            CurvatureBlock.Tape dense = block.qvTape(grad)) {
                        assertClose(factored.v(), dense.v(), "V");
                        Map<String, NDArray> gf = factored.vjp(d);
                        Map<String, NDArray> gd = dense.vjp(d);
                        assertThat(gf.keySet()).isEqualTo(gd.keySet());
                        for (String k : gd.keySet()) {
                            assertThat(Dense.relError(Dense.values(gf.get(k)),
                                    Dense.values(gd.get(k))))
                                    .as("%s for shape %d -> %d, n %d", k, in, out, n)
                                    .isLessThan(1e-12);
                        }
                    }
                }
            }
        }
    }

    private static void assertClose(NDList a, NDList b, String what) {
        for (int i = 0; i < a.size(); i++) {
            assertThat(Dense.relError(Dense.values(a.get(i)), Dense.values(b.get(i))))
                    .as(what + " " + i).isLessThan(1e-12);
        }
    }
}
