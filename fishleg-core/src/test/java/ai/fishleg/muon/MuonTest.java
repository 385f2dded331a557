package ai.fishleg.muon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.fishleg.testing.Dense;
import ai.fishleg.testing.Models;
import ai.fishleg.util.Rng;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Muon's steps against a hand computation in float64 (momentum, Nesterov, Newton-Schulz in plain
 * Java arrays, the shape scale, AdamW with bias correction for the other parameters), its
 * parameter split, and a checkpointed run resumed bit for bit.
 */
class MuonTest {

    @TempDir
    Path dir;

    static final double LR = 0.05;
    static final double BETA = 0.95;
    static final double ADAM_LR = 0.01;
    static final double WD = 0.1;

    /** Input 3 → 5 → 4 → 2 with tanh: one hidden weight matrix (4 × 5). */
    static Block model(NDManager m, DataType type, long seed) {
        Engine.getInstance().setRandomSeed((int) seed);
        return Models.mlp(m, type, 3, 5, 4, 2);
    }

    /** Backward of ½‖f(x) − y‖² on a fixed batch that depends on t. */
    static void backward(Block net, NDManager m, DataType type, int t) {
        Rng rng = new Rng(100 + t);
        NDArray x = Models.gaussian(m, rng, 6, 3, type);
        NDArray y = Models.gaussian(m, rng, 6, 2, type);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray out = net.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
            gc.backward(out.sub(y).square().sum().mul(0.5));
        }
    }

    @Test
    void splitsThePublishedWay() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, DataType.FLOAT64, 1);
            List<String> weights = new ArrayList<>();
            for (Pair<String, Parameter> p : net.getParameters()) {
                if (p.getValue().getArray().getShape().dimension() == 2) {
                    weights.add(p.getKey());
                }
            }
            ParameterSplit hidden = MuonLayers.hidden().split(net);
            assertThat(hidden.muonNames()).containsExactly(weights.get(1));
            assertThat(hidden.adamwNames()).hasSize(5).doesNotContain(weights.get(1));
            assertThat(MuonLayers.all().split(net).muonNames()).containsExactlyElementsOf(weights);
            assertThat(MuonLayers.named(weights.get(2)).split(net).muonNames()).containsExactly(weights.get(2));
            assertThatThrownBy(() -> MuonLayers.named("nope").split(net))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(weights.get(0));
        }
    }

    @Test
    void twoStepsEqualAHandComputation() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, DataType.FLOAT64, 2);
            Map<String, double[]> w = new LinkedHashMap<>();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            for (Pair<String, Parameter> p : net.getParameters()) {
                w.put(p.getKey(), Dense.values(p.getValue().getArray()));
                shapes.put(p.getKey(), p.getValue().getArray().getShape().getShape());
            }
            Map<String, double[]> momentum = new LinkedHashMap<>();
            Map<String, double[]> m1 = new LinkedHashMap<>();
            Map<String, double[]> m2 = new LinkedHashMap<>();
            try (Muon opt = Muon.builder().lr(LR).momentum(BETA).weightDecay(WD)
                    .adamw(ADAM_LR, 0.9, 0.95, 1e-10, WD).build(net)) {
                String hidden = opt.getSplit().muonNames().get(0);
                for (int t = 1; t <= 2; t++) {
                    opt.zeroGrad();
                    backward(net, m, DataType.FLOAT64, t);
                    for (Pair<String, Parameter> p : net.getParameters()) {
                        String name = p.getKey();
                        double[] g = Dense.values(p.getValue().getArray().getGradient());
                        double[] x = w.get(name);
                        if (name.equals(hidden)) {
                            double[] b = momentum.computeIfAbsent(name, k -> new double[g.length]);
                            double[] u = new double[g.length];
                            for (int i = 0; i < g.length; i++) {
                                b[i] = BETA * b[i] + (1 - BETA) * g[i];
                                u[i] = (1 - BETA) * g[i] + BETA * b[i];
                            }
                            int rows = (int) shapes.get(name)[0];
                            int cols = g.length / rows;
                            double[][] o = newtonSchulz(Dense.matrix(u, rows, cols));
                            double scale = Math.sqrt(Math.max(1, (double) rows / cols));
                            for (int i = 0; i < x.length; i++) {
                                x[i] = x[i] * (1 - LR * WD) - LR * scale * o[i / cols][i % cols];
                            }
                        } else {
                            double[] a = m1.computeIfAbsent(name, k -> new double[g.length]);
                            double[] v = m2.computeIfAbsent(name, k -> new double[g.length]);
                            for (int i = 0; i < g.length; i++) {
                                a[i] = 0.9 * a[i] + 0.1 * g[i];
                                v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
                                double aHat = a[i] / (1 - Math.pow(0.9, t));
                                double vHat = v[i] / (1 - Math.pow(0.95, t));
                                x[i] = x[i] * (1 - ADAM_LR * WD) - ADAM_LR * aHat / (Math.sqrt(vHat) + 1e-10);
                            }
                        }
                    }
                    opt.step();
                    for (Pair<String, Parameter> p : net.getParameters()) {
                        assertThat(Dense.relError(Dense.values(p.getValue().getArray()), w.get(p.getKey())))
                                .as("%s after step %d", p.getKey(), t).isLessThan(1e-12);
                    }
                }
                assertThat(opt.getStepCount()).isEqualTo(2);
            }
        }
    }

    /** Five quintic iterations on a matrix normalised by its Frobenius norm (4 × 5: wide). */
    static double[][] newtonSchulz(double[][] g) {
        boolean tall = g.length > g[0].length;
        double[][] x = tall ? Dense.transpose(g) : g;
        double norm = 0;
        for (double[] row : x) {
            for (double v : row) {
                norm += v * v;
            }
        }
        x = scaled(x, 1 / (Math.sqrt(norm) + 1e-7));
        for (int k = 0; k < 5; k++) {
            double[][] a = Dense.mul(x, Dense.transpose(x));
            double[][] aax = Dense.mul(a, Dense.mul(a, x));
            double[][] ax = Dense.mul(a, x);
            double[][] next = new double[x.length][x[0].length];
            for (int i = 0; i < x.length; i++) {
                for (int j = 0; j < x[0].length; j++) {
                    next[i][j] = 3.4445 * x[i][j] - 4.7750 * ax[i][j] + 2.0315 * aax[i][j];
                }
            }
            x = next;
        }
        return tall ? Dense.transpose(x) : x;
    }

    static double[][] scaled(double[][] a, double f) {
        double[][] out = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                out[i][j] = a[i][j] * f;
            }
        }
        return out;
    }

    static void train(Muon opt, Block net, NDManager m, int from, int to) {
        for (int t = from; t < to; t++) {
            try (NDManager s = m.newSubManager()) {
                opt.zeroGrad();
                backward(net, s, DataType.FLOAT32, t);
                opt.step();
            }
        }
    }

    static List<double[]> snapshot(Block net) {
        List<double[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : net.getParameters()) {
            out.add(Dense.values(p.getValue().getArray()));
        }
        return out;
    }

    @Test
    void resumedRunIsBitIdentical() throws Exception {
        Path file = dir.resolve("muon.safetensors");
        try (NDManager m = NDManager.newBaseManager()) {
            Block a = model(m, DataType.FLOAT32, 5);
            List<double[]> straight;
            try (Muon opt = Muon.builder().lr(0.02).weightDecay(0.01).layers(MuonLayers.all()).build(a)) {
                train(opt, a, m, 0, 4);
                opt.save(file, Map.of("epoch", "2"));
                train(opt, a, m, 4, 9);
                straight = snapshot(a);
            }
            Block b = model(m, DataType.FLOAT32, 77);
            try (Muon opt = Muon.builder().lr(0.02).weightDecay(0.01).layers(MuonLayers.all()).build(b)) {
                assertThat(opt.load(file)).containsEntry("epoch", "2");
                assertThat(opt.getStepCount()).isEqualTo(4);
                train(opt, b, m, 4, 9);
                List<double[]> resumed = snapshot(b);
                for (int i = 0; i < straight.size(); i++) {
                    assertThat(resumed.get(i)).as("parameter %d", i).containsExactly(straight.get(i));
                }
            }
        }
    }

    @Test
    void refusesBadSettings() {
        assertThatThrownBy(() -> Muon.builder().lr(0)).hasMessageContaining("lr");
        assertThatThrownBy(() -> Muon.builder().momentum(1)).hasMessageContaining("momentum");
        assertThatThrownBy(() -> Muon.builder().nsSteps(0)).hasMessageContaining("nsSteps");
    }
}
