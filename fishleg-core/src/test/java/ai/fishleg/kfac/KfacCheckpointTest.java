package ai.fishleg.kfac;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A K-FAC run saved and resumed in a fresh optimizer and a freshly initialised model continues
 * bit for bit as the uninterrupted run (float32; the cut falls between statistics updates and
 * between inversions, with momentum, weight decay, klClip, label sampling and random curvature
 * batches all in play), and a checkpoint that is not K-FAC's is refused without changing anything.
 */
class KfacCheckpointTest {

    @TempDir
    Path dir;

    static final int BEFORE = 5;
    static final int AFTER = 6;

    /** The data: fixed, so that both runs see the same examples. */
    record Data(NDArray x, NDArray y) {}

    static Data data(NDManager m) {
        NDArray x = Models.gaussian(m, new Rng(1), 48, 4, DataType.FLOAT32);
        return new Data(x, x.gt(0).toType(DataType.FLOAT32, false));
    }

    static Block model(NDManager m, int seed) {
        SequentialBlock net = new SequentialBlock()
                .add(RecordingLinear.builder().setUnits(10).build())
                .add(Activation::tanh)
                .add(Linear.builder().setUnits(5).build())
                .add(Activation::tanh)
                .add(RecordingLinear.builder().setUnits(4).build());
        Engine.getInstance().setRandomSeed(seed);
        net.initialize(m, DataType.FLOAT32, new Shape(1, 4));
        return net;
    }

    static Kfac kfac(Block net, Data d) {
        return kfac(net, d, FactorInit.FIRST_ESTIMATE, DampingForm.FACTORED);
    }

    static Kfac kfac(Block net, Data d, FactorInit init, DampingForm form) {
        FishLikelihood lik = new BernoulliLikelihood();
        lik.setSeed(17);
        return Kfac.builder(net, DrawFunction.of(lik), NllFunction.of(lik),
                        BatchSources.randomBatches(d.x(), d.y(), 6, 23))
                .lr(0.05).damping(0.05).covEvery(2).invEvery(3).klClip(1e-4).momentum(0.9)
                .weightDecay(1e-3).factorInit(init).dampingForm(form).build();
    }

    /** Steps from..to−1 on batches that depend only on the step index. */
    static void train(Kfac opt, Block net, Data d, int from, int to) {
        NllFunction nll = NllFunction.of(new BernoulliLikelihood());
        for (int t = from; t < to; t++) {
            BatchSource source = BatchSources.randomBatches(d.x(), d.y(), 4, 1000 + t);
            try (NDManager s = d.x().getManager().newSubManager()) {
                LabeledBatch b = source.next(s);
                opt.zeroGrad();
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(nll.nll(net, b));
                }
                opt.step();
            }
        }
    }

    /** Every array of the run: parameters, factors, inverses, momenta. */
    static List<double[]> snapshot(Kfac opt) {
        List<double[]> out = new ArrayList<>();
        for (var p : opt.getModel().getParameters()) {
            out.add(Dense.values(p.getValue().getArray()));
        }
        for (CheckpointState.Entry e : opt.checkpointState().tensors()) {
            out.add(Dense.values(e.array()));
        }
        return out;
    }

    /** The scalar state of a run, from the public API. */
    record Counters(long stepCount, long skippedSteps, long clippedSteps, double lastClipFactor,
            double lr, Map<String, List<Double>> blocks) {
        static Counters of(Kfac kfac) {
            Map<String, List<Double>> blocks = new LinkedHashMap<>();
            for (KroneckerFactoredBlock b : kfac.getBlocks()) {
                blocks.put(b.getName(), List.of((double) b.getFactorUpdates(),
                        (double) b.getInversions(), b.getPi()));
            }
            return new Counters(kfac.getStepCount(), kfac.getSkippedSteps(),
                    kfac.getClippedSteps(), kfac.getLastClipFactor(), kfac.getLr(), blocks);
        }
    }

    @Test
    void resumedRunIsBitIdentical() throws Exception {
        resumesBitIdentically(FactorInit.FIRST_ESTIMATE, DampingForm.FACTORED);
    }

    @Test
    void resumedRunWithIdentityStartAndEigenDampingIsBitIdentical() throws Exception {
        resumesBitIdentically(FactorInit.IDENTITY, DampingForm.EIGEN);
    }

    void resumesBitIdentically(FactorInit init, DampingForm form) throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Data d = data(m);
            Path file = dir.resolve("kfac.safetensors");
            List<double[]> straight;
            Counters straightCounters;
            Block a = model(m, 5);
            try (Kfac opt = kfac(a, d, init, form)) {
                train(opt, a, d, 0, BEFORE);
                opt.save(file, Map.of("epoch", "3"));
                train(opt, a, d, BEFORE, BEFORE + AFTER);
                straight = snapshot(opt);
                straightCounters = Counters.of(opt);
                assertThat(opt.getClippedSteps()).as("klClip must act in this run").isPositive();
            }
            Block b = model(m, 99);
            try (Kfac opt = kfac(b, d, init, form)) {
                assertThat(opt.load(file)).containsEntry("epoch", "3");
                assertThat(opt.getStepCount()).isEqualTo(BEFORE);
                train(opt, b, d, BEFORE, BEFORE + AFTER);
                List<double[]> resumed = snapshot(opt);
                assertThat(resumed).hasSameSizeAs(straight);
                for (int i = 0; i < straight.size(); i++) {
                    assertThat(resumed.get(i)).as("array " + i).containsExactly(straight.get(i));
                }
                assertThat(Counters.of(opt)).isEqualTo(straightCounters);
            }
        }
    }

    @Test
    void aFishLegCheckpointIsRefusedAndNothingChanges() throws Exception {
        try (NDManager m = NDManager.newBaseManager()) {
            Data d = data(m);
            Path file = dir.resolve("fishleg.safetensors");
            Block a = model(m, 5);
            FishLikelihood lik = new BernoulliLikelihood();
            try (FishLeg fl = FishLeg.builder(a, DrawFunction.of(lik), NllFunction.of(lik),
                    BatchSources.randomBatches(d.x(), d.y(), 6, 2)).build()) {
                fl.save(file);
            }
            Block b = model(m, 7);
            try (Kfac opt = kfac(b, d)) {
                train(opt, b, d, 0, 2);
                List<double[]> before = snapshot(opt);
                assertThatThrownBy(() -> opt.load(file))
                        .isInstanceOf(IllegalArgumentException.class);
                List<double[]> after = snapshot(opt);
                for (int i = 0; i < before.size(); i++) {
                    assertThat(after.get(i)).containsExactly(before.get(i));
                }
                assertThat(opt.getStepCount()).isEqualTo(2);
            }
            assertThat(Files.exists(file)).isTrue();
        }
    }
}
