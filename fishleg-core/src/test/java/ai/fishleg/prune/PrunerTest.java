package ai.fishleg.prune;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The pruner against the dense Optimal Brain Surgeon formulas on a small network in float64:
 * each layer's Q is read as a dense matrix column by column from its qv, the saliencies
 * w_q²/(2Q_qq) ranked by hand, and the compensation computed with that matrix (and, row-exact,
 * with Gauss-Jordan solves of its row blocks).
 */
class PrunerTest {

    @TempDir
    Path dir;

    NDManager m;
    Block model;
    FixedGaussianLikelihood lik = new FixedGaussianLikelihood(1.0);
    FishLeg fishLeg;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
        Engine.getInstance().setRandomSeed(7);
        model = Models.mlp(m, DataType.FLOAT64, 4, 5, 3);
        fishLeg = newFishLeg(model);
        randomizeQ(fishLeg, new Rng(11));
    }

    @AfterEach
    void tearDown() {
        fishLeg.close();
        m.close();
    }

    FishLeg newFishLeg(Block net) {
        return FishLeg.builder(net, DrawFunction.of(lik), NllFunction.of(lik), data(net)).build();
    }

    BatchSource data(Block net) {
        Rng rng = new Rng(3);
        NDArray x = Models.gaussian(m, rng, 40, 4, DataType.FLOAT64);
        NDArray y = Models.gaussian(m, rng, 40, 3, DataType.FLOAT64);
        return BatchSources.randomBatches(x, y, 10, 5);
    }

    /** λ = (L, R, A) away from the identity, so that Q has no special structure. */
    void randomizeQ(FishLeg opt, Rng rng) {
        for (CurvatureBlock b : opt.getBlocks()) {
            KroneckerBlock k = (KroneckerBlock) b;
            int o = k.getRows();
            int c = k.getCols();
            k.state().assign(KroneckerBlock.L, near(rng, c, c, 1, 0.3));
            k.state().assign(KroneckerBlock.R, near(rng, o, o, 1, 0.3));
            double[] a = new double[o * c];
            for (int i = 0; i < a.length; i++) {
                a[i] = 0.6 + 0.8 * rng.nextDouble();
            }
            k.state().assign(KroneckerBlock.A, m.create(a, new Shape(o, c)));
        }
    }

    NDArray near(Rng rng, int rows, int cols, double diagonal, double noise) {
        double[] v = rng.gaussians(rows * cols);
        for (int i = 0; i < v.length; i++) {
            v[i] *= noise;
        }
        for (int i = 0; i < Math.min(rows, cols); i++) {
            v[i * cols + i] += diagonal;
        }
        return m.create(v, new Shape(rows, cols));
    }

    /** The dense OBS prune of one layer: returns the new flattened parameters. */
    static double[] denseObs(double[][] q, double[] w, int rows, int fan, double sparsity,
            Compensation compensation, boolean[] prunedOut, double[] saliencyOut) {
        int nw = rows * fan;
        double[] rho = new double[nw];
        Integer[] order = new Integer[nw];
        for (int i = 0; i < nw; i++) {
            rho[i] = w[i] * w[i] / (2 * q[i][i]);
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Double.compare(rho[a], rho[b]));
        int count = (int) Math.round(sparsity * nw);
        for (int i = 0; i < count; i++) {
            prunedOut[order[i]] = true;
            saliencyOut[0] += rho[order[i]];
        }
        double[] x = new double[w.length];
        if (compensation == Compensation.INDEPENDENT) {
            for (int i = 0; i < nw; i++) {
                if (prunedOut[i]) {
                    x[i] = w[i] / q[i][i];
                }
            }
        } else {
            for (int r = 0; r < rows; r++) {
                List<Integer> j = new ArrayList<>();
                for (int c = 0; c < fan; c++) {
                    if (prunedOut[r * fan + c]) {
                        j.add(r * fan + c);
                    }
                }
                double[][] block = new double[j.size()][j.size()];
                double[] wj = new double[j.size()];
                for (int a = 0; a < j.size(); a++) {
                    wj[a] = w[j.get(a)];
                    for (int b = 0; b < j.size(); b++) {
                        block[a][b] = q[j.get(a)][j.get(b)];
                    }
                }
                double[] solved = Dense.solve(block, wj);
                for (int a = 0; a < j.size(); a++) {
                    x[j.get(a)] = solved[a];
                }
            }
        }
        double[] qx = Dense.apply(q, x);
        double[] out = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = i < nw && prunedOut[i] ? 0 : w[i] - qx[i];
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = Compensation.class, names = {"INDEPENDENT", "ROW_EXACT"})
    void saliencyAndCompensationEqualTheDenseObsFormulas(Compensation compensation) {
        double sparsity = 0.55;
        List<double[]> expected = new ArrayList<>();
        List<boolean[]> expectedPruned = new ArrayList<>();
        double[] saliency = new double[1];
        for (CurvatureBlock b : fishLeg.getBlocks()) {
            KroneckerBlock k = (KroneckerBlock) b;
            double[][] q = BlockMatrices.operator(m, k);
            double[] w = Dense.flatten(new NDList(k.getParameterArrays()));
            int fan = k.getCols() - 1;
            boolean[] pruned = new boolean[k.getRows() * fan];
            expected.add(denseObs(q, w, k.getRows(), fan, sparsity, compensation, pruned, saliency));
            expectedPruned.add(pruned);
        }
        Pruner pruner = Pruner.builder().compensation(compensation).build();
        try (InverseFisher inverse = InverseFisher.of(fishLeg, m);
                Masks masks = Masks.dense(inverse.layers(), m)) {
            Pruner.Step step = pruner.prune(inverse, masks, sparsity);
            assertThat(step.saliency()).isCloseTo(saliency[0], within(1e-12 * saliency[0]));
            for (int i = 0; i < expected.size(); i++) {
                CurvatureBlock b = fishLeg.getBlocks().get(i);
                double[] actual = Dense.flatten(new NDList(b.getParameterArrays()));
                assertThat(Dense.relError(actual, expected.get(i))).as(b.getName()).isLessThan(1e-10);
                double[] mask = Dense.values(masks.get(b.getName()));
                for (int q = 0; q < mask.length; q++) {
                    assertThat(mask[q]).isEqualTo(expectedPruned.get(i)[q] ? 0.0 : 1.0);
                }
            }
        }
    }

    @Test
    void kfacInverseIsTheDampedKroneckerProductOnU() {
        // K-FAC's inverse factors M (out x out) and N (k x k): Q = M ⊗ N on vec_r([W | b])
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        PrunableLayer first = layers.get(0);
        Rng rng = new Rng(4);
        NDArray g = near(rng, first.rows(), first.rows(), 0, 1);
        NDArray a = near(rng, first.cols(), first.cols(), 0, 1);
        NDArray mOut = g.matMul(g.transpose()).add(m.eye(first.rows()).toType(DataType.FLOAT64, false));
        NDArray nIn = a.matMul(a.transpose()).add(m.eye(first.cols()).toType(DataType.FLOAT64, false));
        double[][] dm = Dense.matrix(Dense.values(mOut), first.rows(), first.rows());
        double[][] dn = Dense.matrix(Dense.values(nIn), first.cols(), first.cols());
        double[][] onU = Dense.kron(dm, dn);
        int fan = first.fan();
        int k = first.cols();
        // reorder to the flattened parameters: weight row-major, then bias
        int n = first.rows() * k;
        double[][] q = new double[n][n];
        for (int r = 0; r < n; r++) {
            for (int c = 0; c < n; c++) {
                q[index(r, k, fan, first.rows())][index(c, k, fan, first.rows())] = onU[r][c];
            }
        }
        double[] w = Dense.flatten(new NDList(first.parameters()));
        boolean[] pruned = new boolean[first.rows() * fan];
        double[] expected = denseObs(q, w, first.rows(), fan, 0.5, Compensation.INDEPENDENT, pruned,
                new double[1]);
        Map<String, Inverses> inverses =
                Map.of(first.name(), new Inverses(nIn, mOut, 1));
        try (InverseFisher inverse = InverseFisher.of(List.of(first), inverses, m);
                Masks masks = Masks.dense(inverse.layers(), m)) {
            Pruner.builder().build().prune(inverse, masks, 0.5);
            double[] actual = Dense.flatten(new NDList(first.parameters()));
            assertThat(Dense.relError(actual, expected)).isLessThan(1e-10);
        }
    }

    /** Position of entry u (row-major in U, out x k) among the flattened parameters. */
    private static int index(int u, int k, int fan, int rows) {
        int i = u / k;
        int j = u % k;
        return j < fan ? i * fan + j : rows * fan + i;
    }

    @Test
    void identityIsMagnitudePruningAndMovesNothingElse() {
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        List<double[]> before = new ArrayList<>();
        for (PrunableLayer l : layers) {
            before.add(Dense.flatten(new NDList(l.parameters())));
        }
        try (InverseFisher inverse = InverseFisher.identity(layers, m);
                Masks masks = Masks.dense(layers, m)) {
            Pruner.builder().scope(SparsityScope.GLOBAL).build().prune(inverse, masks, 0.6);
            long total = layers.stream().mapToLong(PrunableLayer::weights).sum();
            assertThat(masks.sparsity()).isEqualTo(Math.round(0.6 * total) / (double) total);
            // the threshold: the largest pruned |w| is below the smallest kept |w| over all layers
            double maxPruned = 0;
            double minKept = Double.MAX_VALUE;
            for (int i = 0; i < layers.size(); i++) {
                double[] after = Dense.flatten(new NDList(layers.get(i).parameters()));
                double[] mask = Dense.values(masks.get(layers.get(i).name()));
                for (int q = 0; q < after.length; q++) {
                    boolean isWeight = q < mask.length;
                    if (isWeight && mask[q] == 0) {
                        assertThat(after[q]).isZero();
                        maxPruned = Math.max(maxPruned, Math.abs(before.get(i)[q]));
                    } else {
                        assertThat(after[q]).isEqualTo(before.get(i)[q]);
                        if (isWeight) {
                            minKept = Math.min(minKept, Math.abs(before.get(i)[q]));
                        }
                    }
                }
            }
            assertThat(maxPruned).isLessThanOrEqualTo(minKept);
        }
    }

    @Test
    void cubicScheduleAndGradualPruningReachEachSparsity() {
        PruningSchedule schedule = new PruningSchedule(0.8, 4);
        // s (1 - (1 - t/4)³): 0.8 · 37/64, 0.8 · 7/8, 0.8 · 63/64, 0.8
        assertThat(schedule.sparsityAt(1)).isCloseTo(0.4625, within(1e-15));
        assertThat(schedule.sparsityAt(2)).isCloseTo(0.7, within(1e-15));
        assertThat(schedule.sparsityAt(3)).isCloseTo(0.7875, within(1e-15));
        assertThat(schedule.sparsityAt(4)).isEqualTo(0.8);
        List<Integer> between = new ArrayList<>();
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        try (Masks masks = Masks.dense(layers, m)) {
            List<Pruner.Step> steps = Pruner.builder().compensation(Compensation.ROW_EXACT).build()
                    .prune(t -> InverseFisher.of(fishLeg, m), schedule, masks,
                            (t, mk) -> between.add(t));
            assertThat(between).containsExactly(1, 2, 3);
            for (int t = 1; t <= 4; t++) {
                for (PrunableLayer l : layers) {
                    assertThat(steps.get(t - 1).requested()).isEqualTo(schedule.sparsityAt(t));
                }
            }
            for (PrunableLayer l : layers) {
                assertThat(masks.sparsity(l.name()))
                        .isEqualTo(Math.round(0.8 * l.weights()) / (double) l.weights());
            }
        }
    }

    @Test
    void masksHoldThroughOptimizerStepsAndACheckpoint() throws Exception {
        Path file = dir.resolve("pruned.ckpt");
        NllFunction nll = NllFunction.of(lik);
        BatchSource train = data(model);
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        try (InverseFisher inverse = InverseFisher.of(fishLeg, m);
                Masks masks = Masks.dense(layers, m)) {
            Pruner.builder().build().prune(inverse, masks, 0.5);
            MaskedOptimizer opt = new MaskedOptimizer(fishLeg, masks);
            double[] before = Dense.flatten(new NDList(layers.get(0).parameters()));
            for (int t = 0; t < 3; t++) {
                try (NDManager b = m.newSubManager()) {
                    LabeledBatch batch = train.next(b);
                    opt.zeroGrad();
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        gc.backward(nll.nll(model, batch));
                    }
                    opt.step();
                }
            }
            double[] after = Dense.flatten(new NDList(layers.get(0).parameters()));
            assertThat(Dense.relError(after, before)).isGreaterThan(1e-6); // the steps moved it
            assertZeroWhereMasked(layers, masks);
            opt.save(file);

            Engine.getInstance().setRandomSeed(99);
            Block fresh = Models.mlp(m, DataType.FLOAT64, 4, 5, 3);
            try (FishLeg loaded = newFishLeg(fresh)) {
                loaded.load(file);
                List<PrunableLayer> freshLayers = PrunableLayer.of(loaded);
                try (Masks read = Masks.ofNonZero(freshLayers, m)) {
                    for (PrunableLayer l : freshLayers) {
                        assertThat(Dense.values(read.get(l.name())))
                                .containsExactly(Dense.values(masks.get(l.name())));
                    }
                    assertThat(read.sparsity()).isEqualTo(masks.sparsity());
                }
            }
        }
    }

    private static void assertZeroWhereMasked(List<PrunableLayer> layers, Masks masks) {
        for (PrunableLayer l : layers) {
            double[] w = Dense.values(l.weight());
            double[] mask = Dense.values(masks.get(l.name()));
            for (int q = 0; q < w.length; q++) {
                if (mask[q] == 0) {
                    assertThat(w[q]).as(l.name() + " weight " + q).isZero();
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {1.0, -0.1, 1.5, Double.NaN})
    void aSparsityOutsideZeroToOneIsRefused(double sparsity) {
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        try (InverseFisher inverse = InverseFisher.identity(layers, m);
                Masks masks = Masks.dense(layers, m)) {
            assertThatThrownBy(() -> Pruner.builder().build().prune(inverse, masks, sparsity))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("a sparsity must be in [0, 1)");
        }
        assertThatThrownBy(() -> PruningSchedule.oneShot(sparsity))
                .hasMessageContaining("a sparsity must be in [0, 1)");
    }

    @Test
    void nothingToPruneAndUnknownLayersAreRefused() {
        assertThatThrownBy(() -> InverseFisher.identity(List.of(), m))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("nothing to prune");
        List<PrunableLayer> layers = PrunableLayer.of(fishLeg);
        assertThatThrownBy(() -> InverseFisher.of(layers, Map.of(), m))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no K-FAC inverse for layer " + layers.get(0).name());
        try (InverseFisher inverse = InverseFisher.identity(layers, m);
                Masks other = Masks.dense(layers.subList(1, 2), m)) {
            assertThatThrownBy(() -> Pruner.builder().build().prune(inverse, other, 0.5))
                    .hasMessageContaining("no mask for layer '" + layers.get(0).name() + "'");
        }
        assertThatThrownBy(() -> new PruningSchedule(0.5, 0)).hasMessageContaining("at least 1 step");
    }

    @Test
    void float32ModelsPruneToo() {
        Block net = Models.mlp(m, DataType.FLOAT32, 4, 5, 3);
        try (FishLeg opt = newFishLeg(net);
                InverseFisher inverse = InverseFisher.of(opt, m);
                Masks masks = Masks.dense(inverse.layers(), m)) {
            Pruner.Step step = Pruner.builder().compensation(Compensation.ROW_EXACT).build()
                    .prune(inverse, masks, 0.5);
            assertThat(step.measured()).isEqualTo(masks.sparsity());
            assertThat(inverse.layers().get(0).weight().getDataType()).isEqualTo(DataType.FLOAT32);
            assertZeroWhereMasked(inverse.layers(), masks);
            assertThat(Tensors.allFinite(inverse.layers().get(0).parameters())).isTrue();
        }
    }
}
