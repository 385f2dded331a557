package ai.fishleg.kfac;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * K-FAC on a two-layer network in float64 against an independent dense computation written out
 * in plain Java: forward and backward passes by hand, the factors A = ÂᵀÂ/B and G = B·ĜᵀĜ of the
 * sampled-label pass with their moving average over two statistics updates, π, the damped
 * inverses, the preconditioned gradient as the solution of the dense Kronecker system
 * ((A+π√γI) ⊗ (G+√γ/πI)) vec(N) = vec(∇W) (the first layer takes the activation form, the second
 * the weight form), the parameter step and the klClip factor.
 */
class KfacLinearTest {

    static final int IN = 5;
    static final int HIDDEN = 6;
    static final double SIGMA = 0.8;
    static final double DAMPING = 0.1;
    static final double DECAY = 0.7;
    static final double LR = 0.5;

    /** 5 -> RecordingLinear 6 -> tanh -> second layer 1. */
    static SequentialBlock model(NDManager m, boolean recordingSecond) {
        SequentialBlock net = new SequentialBlock()
                .add(RecordingLinear.builder().setUnits(HIDDEN).build())
                .add(Activation::tanh)
                .add(recordingSecond ? RecordingLinear.builder().setUnits(1).build()
                        : Linear.builder().setUnits(1).build());
        Engine.getInstance().setRandomSeed(3);
        net.initialize(m, DataType.FLOAT64, new Shape(1, IN));
        return net;
    }

    /** Labels "drawn" by a fixed rule, so that the dense computation can repeat them. */
    static final DrawFunction DRAW = (model, x) -> new LabeledBatch(
            x, new NDList(x.head().get(":, 0:1").mul(0.5).add(0.1)));

    static LabeledBatch batch(NDManager m, Rng rng, int n) {
        NDArray x = m.create(rng.gaussians(n * IN), new Shape(n, IN));
        NDArray y = m.create(rng.gaussians(n), new Shape(n, 1));
        return LabeledBatch.of(x, y);
    }

    /** The network's parameters as plain matrices: W1 (6x5), b1, W2 (1x6), b2. */
    record Params(double[][] w1, double[] b1, double[][] w2, double[] b2) {
        static Params of(Block net) {
            Block l1 = net.getChildren().get(0).getValue();
            Block l2 = net.getChildren().get(2).getValue();
            return new Params(
                    Dense.matrix(Dense.values(l1.getParameters().get("weight").getArray()),
                            HIDDEN, IN),
                    Dense.values(l1.getParameters().get("bias").getArray()),
                    Dense.matrix(Dense.values(l2.getParameters().get("weight").getArray()),
                            1, HIDDEN),
                    Dense.values(l2.getParameters().get("bias").getArray()));
        }

        double[] flat() {
            return concat(flatten(w1), b1, flatten(w2), b2);
        }
    }

    /** Rows Â (with the ones column) and Ĝ (output gradients of the mean nll) of both layers. */
    record Rows(double[][] a1, double[][] g1, double[][] a2, double[][] g2) {}

    /** The hand-written forward and backward pass of the nll on (x, y). */
    static Rows rows(Params p, double[][] x, double[] y) {
        int b = x.length;
        double[][] a1 = new double[b][IN + 1];
        double[][] a2 = new double[b][HIDDEN + 1];
        double[][] g1 = new double[b][HIDDEN];
        double[][] g2 = new double[b][1];
        for (int i = 0; i < b; i++) {
            System.arraycopy(x[i], 0, a1[i], 0, IN);
            a1[i][IN] = 1;
            double f = p.b2()[0];
            for (int h = 0; h < HIDDEN; h++) {
                double s = p.b1()[h];
                for (int j = 0; j < IN; j++) {
                    s += p.w1()[h][j] * x[i][j];
                }
                a2[i][h] = Math.tanh(s);
                f += p.w2()[0][h] * a2[i][h];
            }
            a2[i][HIDDEN] = 1;
            // nll = 0.5/B Σ (log σ² + ((y − f)/σ)²): d/df = (f − y)/(σ² B)
            g2[i][0] = (f - y[i]) / (SIGMA * SIGMA * b);
            for (int h = 0; h < HIDDEN; h++) {
                g1[i][h] = g2[i][0] * p.w2()[0][h] * (1 - a2[i][h] * a2[i][h]);
            }
        }
        return new Rows(a1, g1, a2, g2);
    }

    static double[][] gram(double[][] rows, double scale) {
        double[][] m = Dense.mul(Dense.transpose(rows), rows);
        for (double[] r : m) {
            for (int j = 0; j < r.length; j++) {
                r[j] *= scale;
            }
        }
        return m;
    }

    static double[][] ema(double[][] old, double[][] estimate) {
        if (old == null) {
            return estimate;
        }
        double[][] out = new double[old.length][old.length];
        for (int i = 0; i < old.length; i++) {
            for (int j = 0; j < old.length; j++) {
                out[i][j] = DECAY * old[i][j] + (1 - DECAY) * estimate[i][j];
            }
        }
        return out;
    }

    static double trace(double[][] m) {
        double t = 0;
        for (int i = 0; i < m.length; i++) {
            t += m[i][i];
        }
        return t;
    }

    static double pi(double[][] a, double[][] g) {
        return Math.sqrt((trace(a) / a.length) / (trace(g) / g.length));
    }

    static double[][] plusIdentity(double[][] m, double c) {
        double[][] out = new double[m.length][];
        for (int i = 0; i < m.length; i++) {
            out[i] = m[i].clone();
            out[i][i] += c;
        }
        return out;
    }

    /** Solves m x = b ({@link Dense#solve}). */
    static double[] solve(double[][] m, double[] b) {
        return Dense.solve(m, b);
    }

    static double[][] inverse(double[][] m) {
        int n = m.length;
        double[][] inv = new double[n][n];
        for (int j = 0; j < n; j++) {
            double[] e = new double[n];
            e[j] = 1;
            double[] col = solve(m, e);
            for (int i = 0; i < n; i++) {
                inv[i][j] = col[i];
            }
        }
        return inv;
    }

    /**
     * The natural gradient N (o x k) of U from the dense Kronecker system: with column-major
     * vec, ((A+π√γI) ⊗ (G+√γ/πI)) vec(N) = vec(U).
     */
    static double[][] denseNatural(double[][] a, double[][] g, double[][] u) {
        double p = pi(a, g);
        double root = Math.sqrt(DAMPING);
        return solveKronecker(
                Dense.kron(plusIdentity(a, p * root), plusIdentity(g, root / p)), u);
    }

    /** N (o x k) with kron vec(N) = vec(U), vec column-major. */
    static double[][] solveKronecker(double[][] kron, double[][] u) {
        int o = u.length;
        int k = u[0].length;
        double[] vec = new double[o * k];
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < o; i++) {
                vec[j * o + i] = u[i][j];
            }
        }
        double[] n = solve(kron, vec);
        double[][] out = new double[o][k];
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < o; i++) {
                out[i][j] = n[j * o + i];
            }
        }
        return out;
    }

    static double[][] xOf(LabeledBatch b) {
        return Dense.matrix(Dense.values(b.input()), (int) b.size(), IN);
    }

    static double[] drawn(double[][] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = 0.5 * x[i][0] + 0.1;
        }
        return y;
    }

    static void backward(Block net, NllFunction nll, LabeledBatch b) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(nll.nll(net, b));
        }
    }

    /** Two steps with statistics and inversion at each; everything against the dense reference. */
    void checkTwoSteps(double klClip) {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, true);
            Rng rng = new Rng(11);
            List<LabeledBatch> curvature = List.of(batch(m, rng, 3), batch(m, rng, 3));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(curvature))
                    .lr(LR).damping(DAMPING).statDecay(DECAY).covEvery(1).invEvery(1)
                    .momentum(0).weightDecay(0).klClip(klClip).build()) {
                double[][] a1 = null;
                double[][] g1 = null;
                double[][] a2 = null;
                double[][] g2 = null;
                for (int step = 0; step < 2; step++) {
                    Params p = Params.of(net);
                    LabeledBatch train = batch(m, rng, 2);
                    double[][] cx = xOf(curvature.get(step));
                    Rows c = rows(p, cx, drawn(cx));
                    a1 = ema(a1, gram(c.a1(), 1.0 / 3));
                    g1 = ema(g1, gram(c.g1(), 3));
                    a2 = ema(a2, gram(c.a2(), 1.0 / 3));
                    g2 = ema(g2, gram(c.g2(), 3));
                    Rows t = rows(p, xOf(train), Dense.values(train.label()));
                    double[][] u1 = Dense.mul(Dense.transpose(t.g1()), t.a1());
                    double[][] u2 = Dense.mul(Dense.transpose(t.g2()), t.a2());
                    double[][] n1 = denseNatural(a1, g1, u1);
                    double[][] n2 = denseNatural(a2, g2, u2);

                    opt.zeroGrad();
                    backward(net, nll, train);
                    opt.step();

                    KroneckerFactoredBlock b1 = opt.getBlocks().get(0);
                    KroneckerFactoredBlock b2 = opt.getBlocks().get(1);
                    assertClose(b1.getInputFactor(), a1, "A of layer 1, step " + step);
                    assertClose(b1.getOutputFactor(), g1, "G of layer 1, step " + step);
                    assertClose(b2.getInputFactor(), a2, "A of layer 2, step " + step);
                    assertClose(b2.getOutputFactor(), g2, "G of layer 2, step " + step);
                    assertThat(b1.getPi()).isCloseTo(pi(a1, g1), within(1e-12 * pi(a1, g1)));
                    assertThat(b2.getPi()).isCloseTo(pi(a2, g2), within(1e-12 * pi(a2, g2)));
                    double p1 = pi(a1, g1);
                    double root = Math.sqrt(DAMPING);
                    assertClose(b1.getInputInverse(), inverse(plusIdentity(a1, p1 * root)),
                            "(A + π√γ I)⁻¹ of layer 1");
                    assertClose(b1.getOutputInverse(), inverse(plusIdentity(g1, root / p1)),
                            "(G + √γ/π I)⁻¹ of layer 1");
                    assertThat(opt.lastStep().orElseThrow().factoredBlocks())
                            .as("layer 1 (6x6, batch 2) takes the activation form, layer 2 not")
                            .isEqualTo(1);
                    assertThat(b1.activationFormPaysOff(2)).isTrue();
                    assertThat(b2.activationFormPaysOff(2)).isFalse();

                    double nu = 1;
                    if (klClip > 0) {
                        // β = 0: the momentum is the natural gradient
                        double inner = Dense.dot(flatten(n1), flatten(u1))
                                + Dense.dot(flatten(n2), flatten(u2));
                        nu = Math.min(1, Math.sqrt(klClip / (LR * LR * Math.abs(inner))));
                        assertThat(nu).as("the test must clip").isLessThan(1);
                    }
                    assertThat(opt.getLastClipFactor()).isCloseTo(nu, within(1e-12));
                    double[] expected = step(p, n1, n2, nu * LR);
                    double[] actual = Params.of(net).flat();
                    assertThat(Dense.relError(actual, expected)).as("parameters after step " + step)
                            .isLessThan(1e-10);
                }
                assertThat(opt.getClippedSteps()).isEqualTo(klClip > 0 ? 2 : 0);
            }
        }
    }

    @Test
    void factorsInversesAndStepMatchTheDenseComputation() {
        checkTwoSteps(0);
    }

    @Test
    void klClipScalesTheStepByItsFormula() {
        checkTwoSteps(1e-4);
    }

    /** p − s·N for both layers, flattened as {@link Params#flat}. */
    static double[] step(Params p, double[][] n1, double[][] n2, double s) {
        double[][] w1 = new double[HIDDEN][IN];
        double[] b1 = new double[HIDDEN];
        for (int i = 0; i < HIDDEN; i++) {
            for (int j = 0; j < IN; j++) {
                w1[i][j] = p.w1()[i][j] - s * n1[i][j];
            }
            b1[i] = p.b1()[i] - s * n1[i][IN];
        }
        double[][] w2 = new double[1][HIDDEN];
        for (int j = 0; j < HIDDEN; j++) {
            w2[0][j] = p.w2()[0][j] - s * n2[0][j];
        }
        double[] b2 = {p.b2()[0] - s * n2[0][HIDDEN]};
        return concat(flatten(w1), b1, flatten(w2), b2);
    }

    @Test
    void publicPreconditioningFormsAgreeWithTheDenseSystem() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, true);
            Rng rng = new Rng(4);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, rng, 4)))).damping(DAMPING).build()) {
                opt.zeroGrad();
                backward(net, nll, batch(m, rng, 4));
                opt.step();
                KroneckerFactoredBlock block = opt.getBlocks().get(0);
                double[][] a = Dense.matrix(Dense.values(block.getInputFactor()), IN + 1, IN + 1);
                double[][] g = Dense.matrix(Dense.values(block.getOutputFactor()), HIDDEN, HIDDEN);
                double[][] x = Dense.matrix(rng.gaussians(3 * IN), 3, IN);
                double[][] gout = Dense.matrix(rng.gaussians(3 * HIDDEN), 3, HIDDEN);
                double[][] xa = new double[3][IN + 1];
                for (int i = 0; i < 3; i++) {
                    System.arraycopy(x[i], 0, xa[i], 0, IN);
                    xa[i][IN] = 1;
                }
                double[][] u = Dense.mul(Dense.transpose(gout), xa);
                double[] expected = flatten(denseNatural(a, g, u));
                NDArray xs = m.create(flatten(x), new Shape(3, IN));
                NDArray gs = m.create(flatten(gout), new Shape(3, HIDDEN));
                NDList activation = block.precondition(xs, gs);
                double[][] w = new double[HIDDEN][IN];
                double[] b = new double[HIDDEN];
                for (int i = 0; i < HIDDEN; i++) {
                    System.arraycopy(u[i], 0, w[i], 0, IN);
                    b[i] = u[i][IN];
                }
                NDList weight = block.precondition(new NDList(
                        m.create(flatten(w), new Shape(HIDDEN, IN)), m.create(b)));
                assertThat(Dense.relError(asMatrixRows(activation), expected))
                        .as("activation form").isLessThan(1e-10);
                assertThat(Dense.relError(asMatrixRows(weight), expected))
                        .as("weight form").isLessThan(1e-10);
            }
        }
    }

    /** [W | b] row-major from (W, b). */
    static double[] asMatrixRows(NDList wb) {
        double[][] w = Dense.matrix(Dense.values(wb.get(0)), HIDDEN, IN);
        double[] b = Dense.values(wb.get(1));
        double[][] u = new double[HIDDEN][IN + 1];
        for (int i = 0; i < HIDDEN; i++) {
            System.arraycopy(w[i], 0, u[i], 0, IN);
            u[i][IN] = b[i];
        }
        return flatten(u);
    }

    @Test
    void plainLayersTakeMomentumSgd() {
        for (ParameterStep.Momentum form : ParameterStep.Momentum.values()) {
            plainLayersTakeMomentumSgd(form);
        }
    }

    void plainLayersTakeMomentumSgd(ParameterStep.Momentum form) {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, false);
            Rng rng = new Rng(5);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            double beta = 0.5;
            try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, rng, 4)))).lr(LR).momentum(beta).weightDecay(0.01)
                    .klClip(0).momentumForm(form).build()) {
                assertThat(opt.getSgdGroups()).containsExactly("03Linear");
                NDArray w2 = net.getChildren().get(2).getValue().getParameters().get("weight")
                        .getArray();
                double[] mom = new double[HIDDEN];
                for (int step = 0; step < 2; step++) {
                    double[] before = Dense.values(w2);
                    opt.zeroGrad();
                    backward(net, nll, batch(m, rng, 4));
                    double[] grad = Dense.values(w2.getGradient());
                    opt.step();
                    double[] expected = new double[HIDDEN];
                    for (int j = 0; j < HIDDEN; j++) {
                        if (form == ParameterStep.Momentum.HEAVY_BALL) { // torch SGD, L2 0.01
                            mom[j] = beta * mom[j] + grad[j] + 0.01 * before[j];
                            expected[j] = before[j] - LR * mom[j];
                        } else {
                            mom[j] = beta * mom[j] + (1 - beta) * grad[j];
                            expected[j] = before[j] * (1 - 0.01) - LR * mom[j];
                        }
                    }
                    assertThat(Dense.relError(Dense.values(w2), expected)).isLessThan(1e-12);
                    assertThat(Dense.relError(Dense.values(opt.getMomentum("03Linear").get(0)),
                            mom)).isLessThan(1e-12);
                }
            }
        }
    }

    @Test
    void noRecordingLayerIsAClearError() {
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock net = new SequentialBlock().add(Linear.builder().setUnits(2).build());
            net.initialize(m, DataType.FLOAT64, new Shape(1, IN));
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            assertThatThrownBy(() -> Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, new Rng(1), 2)))).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("RecordingLinear.builder()");
            assertThatThrownBy(() -> Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, new Rng(1), 2)))).covEvery(0).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("covEvery");
            assertThatThrownBy(() -> Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, new Rng(1), 2)))).damping(0).build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("damping");
        }
    }

    @Test
    void nonFiniteGradientWritesNothing() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, true);
            Rng rng = new Rng(6);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            for (NonFinitePolicy policy : NonFinitePolicy.values()) {
                try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                                List.of(batch(m, rng, 4)))).nonFinitePolicy(policy).build()) {
                    double[] before = Params.of(net).flat();
                    opt.zeroGrad();
                    backward(net, nll, batch(m, rng, 4));
                    NDArray w = net.getChildren().get(2).getValue().getParameters().get("weight")
                            .getArray();
                    w.getGradient().set(new ai.djl.ndarray.index.NDIndex("0, 0"), Double.NaN);
                    if (policy == NonFinitePolicy.THROW) {
                        assertThatThrownBy(opt::step).isInstanceOf(NonFiniteException.class)
                                .hasMessageContaining("03RecordingLinear");
                    } else {
                        opt.step();
                        assertThat(opt.getSkippedSteps()).isEqualTo(1);
                    }
                    assertThat(Params.of(net).flat()).containsExactly(before);
                    assertThat(opt.getStepCount()).isZero();
                    assertThat(opt.getBlocks().get(0).getFactorUpdates()).isZero();
                }
            }
        }
    }

    @Test
    void scheduleAndTheUsersGradientsAreKept() {
        try (NDManager m = NDManager.newBaseManager()) {
            Block net = model(m, true);
            Rng rng = new Rng(7);
            NllFunction nll = NllFunction.of(new FixedGaussianLikelihood(SIGMA));
            try (Kfac opt = Kfac.builder(net, DRAW, nll, BatchSources.cycle(
                            List.of(batch(m, rng, 4)))).covEvery(2).invEvery(3).build()) {
                long[] updates = new long[7];
                long[] inversions = new long[7];
                for (int step = 0; step < 7; step++) {
                    opt.zeroGrad();
                    backward(net, nll, batch(m, rng, 4));
                    double[][] before = gradients(net);
                    opt.step();
                    double[][] after = gradients(net);
                    for (int i = 0; i < before.length; i++) {
                        assertThat(after[i]).as("gradient " + i + " after step " + step)
                                .containsExactly(before[i]);
                    }
                    updates[step] = opt.getBlocks().get(1).getFactorUpdates();
                    inversions[step] = opt.getBlocks().get(1).getInversions();
                }
                // statistics at steps 0, 2, 4, 6; inversions at 0, 3, 6
                assertThat(updates).containsExactly(1, 1, 2, 2, 3, 3, 4);
                assertThat(inversions).containsExactly(1, 1, 1, 2, 2, 2, 3);
                assertThat(opt.getStepCount()).isEqualTo(7);
            }
        }
    }

    static double[][] gradients(Block net) {
        return net.getParameters().values().stream()
                .map(p -> Dense.values(p.getArray().getGradient())).toArray(double[][]::new);
    }

    static void assertClose(NDArray actual, double[][] expected, String what) {
        assertThat(Dense.relError(Dense.values(actual), flatten(expected))).as(what)
                .isLessThan(1e-10);
    }

    static org.assertj.core.data.Offset<Double> within(double d) {
        return org.assertj.core.data.Offset.offset(d);
    }

    static double[] flatten(double[][] m) {
        double[] out = new double[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            System.arraycopy(m[i], 0, out, i * m[0].length, m[0].length);
        }
        return out;
    }

    static double[] concat(double[]... parts) {
        int n = 0;
        for (double[] p : parts) {
            n += p.length;
        }
        double[] out = new double[n];
        int o = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
