package ai.fishleg.likelihood;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The four likelihoods: nll and its gradient against the closed forms of docs/ALGORITHM.md §13,
 * and the samples of draw against their distribution's mean / frequencies.
 */
class LikelihoodTest {

    static final int B = 6;
    static final int D = 4;

    /** nll(f) and ∂nll/∂f through DJL's autograd. */
    record Eval(double nll, double[] grad) {}

    static Eval eval(NDManager m, FishLikelihood lik, double[] f, double[] y, Shape shape) {
        return eval(m, lik, f, y, shape, false);
    }

    /** @param collect whether to collect garbage between the forward and the backward pass */
    static Eval eval(NDManager m, FishLikelihood lik, double[] f, double[] y, Shape shape,
            boolean collect) {
        NDArray preds = Tensors.create(m, f, shape, DataType.FLOAT64);
        preds.setRequiresGradient(true);
        NDArray obs = Tensors.create(m, y, shape, DataType.FLOAT64);
        double value;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            long buffers = collect ? freeUnreachableBuffers(Long.MAX_VALUE) : 0;
            NDArray nll = lik.nll(preds, obs);
            value = nll.getDouble();
            if (collect) {
                freeUnreachableBuffers(buffers);
            }
            gc.backward(nll);
        }
        return new Eval(value, Dense.values(preds.getGradient()));
    }

    static BufferPoolMXBean directBuffers() {
        return ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                .filter(b -> b.getName().equals("direct")).findFirst().orElseThrow();
    }

    /**
     * Collects garbage until the JVM holds at most {@code atMost} direct buffers and their number
     * stopped changing (the unreferenced ones are freed), for at most about two seconds.
     *
     * @return the number of direct buffers then
     */
    static long freeUnreachableBuffers(long atMost) {
        long last = -1;
        for (int i = 0; i < 200; i++) {
            System.gc();
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
            long now = directBuffers().getCount();
            if (now <= atMost && now == last) {
                break;
            }
            last = now;
        }
        return directBuffers().getCount();
    }

    static double[] randn(Rng rng, int n, double scale) {
        double[] v = rng.gaussians(n);
        for (int i = 0; i < n; i++) {
            v[i] *= scale;
        }
        return v;
    }

    @Test
    void fixedGaussianNllAndGradient() {
        Rng rng = new Rng(1);
        double sigma = 0.7;
        double[] f = randn(rng, B * D, 2);
        double[] y = randn(rng, B * D, 2);
        try (NDManager m = NDManager.newBaseManager()) {
            Eval e = eval(m, new FixedGaussianLikelihood(sigma), f, y, new Shape(B, D));
            double expected = 0;
            for (int i = 0; i < f.length; i++) {
                expected += Math.log(sigma * sigma) + Math.pow((y[i] - f[i]) / sigma, 2);
            }
            expected *= 0.5 / B;
            assertThat(e.nll()).isCloseTo(expected, offset(1e-12));
            for (int i = 0; i < f.length; i++) {
                assertThat(e.grad()[i]).isCloseTo((f[i] - y[i]) / (sigma * sigma * B), offset(1e-12));
            }
            // n counts examples over every leading dimension: (2, 3, D) has 6 examples.
            Eval e3 = eval(m, new FixedGaussianLikelihood(sigma), f, y, new Shape(2, 3, D));
            assertThat(e3.nll()).isCloseTo(expected, offset(1e-12));
        }
    }

    @Test
    void gaussianNllAndGradientsIncludingSigma() {
        Rng rng = new Rng(2);
        double sigma = 1.3;
        double[] f = randn(rng, B * D, 1);
        double[] y = randn(rng, B * D, 1);
        try (NDManager m = NDManager.newBaseManager()) {
            GaussianLikelihood lik = new GaussianLikelihood(m, sigma, DataType.FLOAT64);
            Eval e = eval(m, lik, f, y, new Shape(B, D));
            double expected = 0;
            double dSigma = 0;
            for (int i = 0; i < f.length; i++) {
                double r = y[i] - f[i];
                expected += Math.log(sigma * sigma) + r * r / (sigma * sigma);
                dSigma += 1 / sigma - r * r / Math.pow(sigma, 3);
            }
            expected *= 0.5 / B;
            dSigma /= B;
            assertThat(e.nll()).isCloseTo(expected, offset(1e-12));
            for (int i = 0; i < f.length; i++) {
                assertThat(e.grad()[i]).isCloseTo((f[i] - y[i]) / (sigma * sigma * B), offset(1e-12));
            }
            assertThat(lik.getSigma().getGradient().getDouble()).isCloseTo(dSigma, offset(1e-12));
            assertThat(lik.getParameters()).containsExactly(lik.getSigma());
        }
    }

    @Test
    void bernoulliNllAndGradientAreStableForLargeLogits() {
        Rng rng = new Rng(3);
        double[] f = randn(rng, B * D, 5);
        f[0] = 80; // exp(80) overflows a naive form in float32; softplus must stay exact
        f[1] = -80;
        double[] y = new Rng(4).uniforms(B * D); // soft targets in [0, 1)
        try (NDManager m = NDManager.newBaseManager()) {
            Eval e = eval(m, new BernoulliLikelihood(), f, y, new Shape(B, D));
            double expected = 0;
            for (int i = 0; i < f.length; i++) {
                double softplus = Math.max(-f[i], 0) + Math.log1p(Math.exp(-Math.abs(f[i])));
                expected += f[i] * (1 - y[i]) + softplus;
            }
            expected /= B;
            assertThat(e.nll()).isCloseTo(expected, offset(1e-10));
            for (int i = 0; i < f.length; i++) {
                double sigmoid = 1 / (1 + Math.exp(-f[i]));
                assertThat(e.grad()[i]).isCloseTo((sigmoid - y[i]) / B, offset(1e-12));
            }
        }
    }

    @Test
    void softmaxNllAndGradient() {
        Rng rng = new Rng(5);
        double[] f = randn(rng, B * D, 3);
        double[] y = new double[B * D];
        for (int n = 0; n < B; n++) {
            y[n * D + rng.nextInt(D)] = 1;
        }
        try (NDManager m = NDManager.newBaseManager()) {
            Eval e = eval(m, new SoftMaxLikelihood(), f, y, new Shape(B, D));
            double expected = 0;
            double[] grad = new double[f.length];
            for (int n = 0; n < B; n++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < D; c++) {
                    max = Math.max(max, f[n * D + c]);
                }
                double z = 0;
                for (int c = 0; c < D; c++) {
                    z += Math.exp(f[n * D + c] - max);
                }
                for (int c = 0; c < D; c++) {
                    double logp = f[n * D + c] - max - Math.log(z);
                    expected -= y[n * D + c] * logp;
                    grad[n * D + c] = (Math.exp(logp) - y[n * D + c]) / B;
                }
            }
            expected /= B;
            assertThat(e.nll()).isCloseTo(expected, offset(1e-12));
            assertThat(Dense.relError(e.grad(), grad)).isLessThan(1e-12);
        }
    }

    /**
     * A garbage collection between the forward and the backward pass does not change any
     * gradient (issue 25). DJL's operations with a Java number ({@code mul(0.5)}, {@code
     * maximum(0)}, ...) keep the number in a direct buffer that only a Java array they close at
     * once refers to, while PyTorch's autograd graph keeps reading it; a collection freed it and
     * the backward pass read freed memory ({@link Tensors#constant}). The gradients with a
     * collection in between must be those without one (the tests above check these against the
     * closed forms), to the bit.
     */
    @Test
    void gradientsAreTheSameWhenGarbageIsCollectedBeforeTheBackwardPass() {
        Rng rng = new Rng(9);
        double[] f = randn(rng, B * D, 2);
        double[] y = new Rng(10).uniforms(B * D);
        Shape shape = new Shape(B, D);
        try (NDManager m = NDManager.newBaseManager()) {
            List<String> changed = new ArrayList<>();
            Map<String, Supplier<FishLikelihood>> all = new LinkedHashMap<>();
            all.put("Bernoulli", BernoulliLikelihood::new);
            all.put("fixed Gaussian", () -> new FixedGaussianLikelihood(0.7));
            all.put("softmax", SoftMaxLikelihood::new);
            for (Map.Entry<String, Supplier<FishLikelihood>> e : all.entrySet()) {
                Eval plain = eval(m, e.getValue().get(), f, y, shape, false);
                Eval collected = eval(m, e.getValue().get(), f, y, shape, true);
                assertThat(collected.nll()).as(e.getKey()).isEqualTo(plain.nll());
                if (!Arrays.equals(collected.grad(), plain.grad())) {
                    changed.add(e.getKey());
                }
            }
            GaussianLikelihood a = new GaussianLikelihood(m, 1.3, DataType.FLOAT64);
            GaussianLikelihood b = new GaussianLikelihood(m, 1.3, DataType.FLOAT64);
            Eval plain = eval(m, a, f, y, shape, false);
            Eval collected = eval(m, b, f, y, shape, true);
            if (!Arrays.equals(collected.grad(), plain.grad())) {
                changed.add("Gaussian");
            }
            if (b.getSigma().getGradient().getDouble() != a.getSigma().getGradient().getDouble()) {
                changed.add("Gaussian σ");
            }
            assertThat(changed).as("gradients changed by the collection").isEmpty();
        }
    }

    /** Mean of many draws from fixed predictions. */
    static double[] sampleMean(NDManager m, FishLikelihood lik, double[] f, int draws,
            Function<NDArray, NDArray> check) {
        double[] mean = new double[f.length];
        NDArray preds = Tensors.create(m, f, new Shape(1, f.length), DataType.FLOAT64);
        for (int t = 0; t < draws; t++) {
            try (NDArray s = lik.draw(preds)) {
                check.apply(s);
                double[] v = Dense.values(s);
                for (int i = 0; i < v.length; i++) {
                    mean[i] += v[i] / draws;
                }
            }
        }
        return mean;
    }

    @Test
    void gaussianDrawsHaveTheRightMeanAndSpread() {
        double[] f = {-1, 0.5, 3};
        int draws = 20000;
        try (NDManager m = NDManager.newBaseManager()) {
            FixedGaussianLikelihood lik = new FixedGaussianLikelihood(2.0);
            lik.setSeed(11);
            double[] mean = sampleMean(m, lik, f, draws, s -> s);
            double[] second = sampleMean(m, squared(lik), f, draws, s -> s);
            for (int i = 0; i < f.length; i++) {
                // 5 standard errors of the mean (σ/√n = 0.014)
                assertThat(mean[i]).isCloseTo(f[i], offset(5 * 2.0 / Math.sqrt(draws)));
                assertThat(second[i] - f[i] * f[i]).isCloseTo(4.0, offset(0.25));
            }
        }
    }

    /** A likelihood whose draws are the squares of another's. */
    static FishLikelihood squared(FishLikelihood inner) {
        return new FishLikelihood() {
            @Override
            public NDArray nll(NDArray preds, NDArray observations) {
                throw new UnsupportedOperationException();
            }

            @Override
            public NDArray draw(NDArray preds) {
                try (NDArray d = inner.draw(preds)) {
                    return d.square();
                }
            }

            @Override
            public Rng getRng() {
                return inner.getRng();
            }
        };
    }

    @Test
    void bernoulliDrawFrequenciesMatchSigmoid() {
        double[] f = {-2, 0, 1.5};
        int draws = 20000;
        try (NDManager m = NDManager.newBaseManager()) {
            BernoulliLikelihood lik = new BernoulliLikelihood();
            lik.setSeed(12);
            double[] freq = sampleMean(m, lik, f, draws, s -> {
                for (double v : Dense.values(s)) {
                    assertThat(v).isIn(0.0, 1.0);
                }
                return s;
            });
            for (int i = 0; i < f.length; i++) {
                double p = 1 / (1 + Math.exp(-f[i]));
                assertThat(freq[i]).isCloseTo(p, offset(5 * Math.sqrt(p * (1 - p) / draws)));
            }
        }
    }

    @Test
    void softmaxDrawsAreOneHotWithSoftmaxFrequencies() {
        double[] f = {1.0, -0.5, 2.0, 0.0};
        int draws = 20000;
        try (NDManager m = NDManager.newBaseManager()) {
            SoftMaxLikelihood lik = new SoftMaxLikelihood();
            lik.setSeed(13);
            double[] freq = sampleMean(m, lik, f, draws, s -> {
                double[] v = Dense.values(s);
                double sum = 0;
                for (double x : v) {
                    assertThat(x).isIn(0.0, 1.0);
                    sum += x;
                }
                assertThat(sum).isEqualTo(1.0);
                return s;
            });
            double z = 0;
            for (double x : f) {
                z += Math.exp(x);
            }
            for (int i = 0; i < f.length; i++) {
                double p = Math.exp(f[i]) / z;
                assertThat(freq[i]).isCloseTo(p, offset(5 * Math.sqrt(p * (1 - p) / draws)));
            }
        }
    }

    @Test
    void drawsAreReproducibleFromTheSeed() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray preds = Tensors.create(m, new double[] {0.1, -0.3, 2, 1}, new Shape(2, 2),
                    DataType.FLOAT64);
            BernoulliLikelihood a = new BernoulliLikelihood();
            BernoulliLikelihood b = new BernoulliLikelihood();
            a.setSeed(99);
            b.setSeed(99);
            for (int t = 0; t < 5; t++) {
                assertThat(Dense.values(a.draw(preds))).containsExactly(Dense.values(b.draw(preds)));
            }
        }
    }

    @Test
    void badInputIsRejectedWithAClearMessage() {
        assertThatThrownBy(() -> new FixedGaussianLikelihood(0))
                .hasMessageContaining("sigma").hasMessageContaining("positive");
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray preds = m.zeros(new Shape(2, 3), DataType.FLOAT64);
            NDArray obs = m.zeros(new Shape(2, 4), DataType.FLOAT64);
            assertThatThrownBy(() -> new BernoulliLikelihood().nll(preds, obs))
                    .hasMessageContaining("(2, 3)").hasMessageContaining("(2, 4)");
        }
    }

    @Test
    void float32PredictionsWork() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray preds = m.create(new float[] {0.5f, -1f, 2f, 0f}, new Shape(2, 2));
            NDArray obs = m.create(new float[] {1f, 0f, 1f, 1f}, new Shape(2, 2));
            NDArray nll = new BernoulliLikelihood().nll(preds, obs);
            assertThat(nll.getDataType()).isEqualTo(DataType.FLOAT32);
            double expected = 0;
            float[] f = {0.5f, -1f, 2f, 0f};
            float[] y = {1f, 0f, 1f, 1f};
            for (int i = 0; i < 4; i++) {
                expected += f[i] * (1 - y[i]) + Math.log1p(Math.exp(-f[i]));
            }
            assertThat(nll.getFloat()).isCloseTo((float) (expected / 2), offset(1e-6f));
            assertThat(new SoftMaxLikelihood().draw(preds).getDataType()).isEqualTo(DataType.FLOAT32);
        }
    }
}
