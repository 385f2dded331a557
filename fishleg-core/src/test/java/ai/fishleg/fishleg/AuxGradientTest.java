package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.GaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The analytic gradient of the auxiliary loss with respect to every aux tensor (L, R, A of each
 * linear layer, and λ of a learnable likelihood) equals central finite differences of the loss.
 *
 * <p>Both through the public API: the loss is {@link FishLeg#updateAux(AuxMode, FisherLabels)}
 * under EVALUATE; the gradient g is read back from the first auxiliary Adam step, which moves each entry
 * by Δ = lr·g/(|g| + ε) on the entries the block's mask lets through (PyTorch's Adam at t = 1: m̂ = g, v̂ = g²), so g = ε·Δ/(lr − |Δ|). With lr = ε
 * large against |g| this inversion is well conditioned.
 */
class AuxGradientTest {

    /** The auxiliary learning rate and Adam's ε, equal and large against the gradients. */
    private static final double STEP = 1e3;

    @ParameterizedTest(name = "normalization={0} learnableSigma={1} batchSpeedup={2}")
    @CsvSource({"false,false,false", "true,false,false", "false,true,false", "true,true,true"})
    void gradientMatchesFiniteDifferences(boolean normalization, boolean learnableSigma, boolean speedup) {
        Rng rng = new Rng(7);
        try (NDManager m = NDManager.newBaseManager()) {
            SequentialBlock model = new SequentialBlock()
                    .add(Linear.builder().setUnits(4).build())
                    .add(Activation.tanhBlock())
                    .add(Linear.builder().setUnits(3).optBias(false).build());
            model.initialize(m, DataType.FLOAT64, new Shape(1, 3));
            FishLikelihood likelihood = learnableSigma
                    ? new GaussianLikelihood(m, 0.8, DataType.FLOAT64)
                    : new BernoulliLikelihood();
            NDArray x = Tensors.create(m, rng.gaussians(5 * 3), new Shape(5, 3), DataType.FLOAT64);
            NDArray y = learnableSigma
                    ? Tensors.create(m, rng.gaussians(5 * 3), new Shape(5, 3), DataType.FLOAT64)
                    : Tensors.create(m, rng.uniforms(5 * 3), new Shape(5, 3), DataType.FLOAT64);
            // A fixed auxiliary batch and fixed "sampled" labels make the loss a function of λ only.
            DrawFunction fixedDraw = (model1, inputs) -> new LabeledBatch(inputs, new NDList(y.duplicate()));
            try (FishLeg opt = FishLeg.builder(model, fixedDraw, NllFunction.of(likelihood),
                            BatchSources.cycle(List.of(LabeledBatch.of(x, y))))
                    .likelihood(likelihood).damping(0.3).normalization(normalization)
                    .batchSpeedup(speedup).auxLr(STEP).auxEps(STEP).build()) {
                for (CurvatureBlock block : opt.getBlocks()) {
                    for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                        BlockMatrices.setAux(block, e.getKey(), draw(e.getValue(), rng, 0.5, 1.0));
                    }
                    randomize(Map.of("u", opt.getStoredGradient(block.getName())), rng, 0, 1);
                }
                Map<NDArray, double[]> numeric = new IdentityHashMap<>();
                Map<NDArray, double[]> before = new IdentityHashMap<>();
                for (CurvatureBlock block : opt.getBlocks()) {
                    for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                        numeric.put(e.getValue(),
                                AuxLossDifferences.finiteDifference(opt, block, e.getKey()));
                        before.put(e.getValue(), Dense.values(e.getValue()));
                    }
                }
                opt.updateAux(AuxMode.LEARN, FisherLabels.DRAWN); // one Adam step along the analytic gradient
                int checked = 0;
                for (CurvatureBlock block : opt.getBlocks()) {
                    for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                        double[] after = Dense.values(e.getValue());
                        double[] old = before.get(e.getValue());
                        if (!block.isTrainable(e.getKey())) {
                            assertThat(after).as("frozen " + e.getKey()).containsExactly(old);
                            continue;
                        }
                        double[] analytic = new double[old.length];
                        for (int i = 0; i < old.length; i++) {
                            double delta = old[i] - after[i];
                            analytic[i] = STEP * delta / (STEP - Math.abs(delta));
                        }
                        // the step follows the block's mask (L's structural zeros stay zero)
                        double[] expected;
                        NDArray fd = Tensors.create(m, numeric.get(e.getValue()),
                                e.getValue().getShape(), e.getValue().getDataType());
                        try (NDArray masked = block.maskGradient(e.getKey(), fd)) {
                            expected = Dense.values(masked);
                        } finally {
                            fd.close();
                        }
                        assertThat(Dense.relError(analytic, expected))
                                .as(block.getName() + "." + e.getKey())
                                .isLessThan(1e-5);
                        checked++;
                    }
                }
                assertThat(checked).isGreaterThanOrEqualTo(speedup ? 4 : 6);
            }
        }
    }

    private static void randomize(Map<String, ?> tensors, Rng rng, double mean, double std) {
        for (Object o : tensors.values()) {
            List<NDArray> arrays = o instanceof NDList ? (NDList) o : List.of((NDArray) o);
            for (NDArray a : arrays) {
                try (NDArray r = Tensors.create(a.getManager(), draw(a, rng, mean, std), a.getShape(),
                        a.getDataType())) {
                    Tensors.assign(a, r);
                }
            }
        }
    }

    /** @return mean + std·z for z standard normal, one value per entry of a */
    private static double[] draw(NDArray a, Rng rng, double mean, double std) {
        double[] v = rng.gaussians(Math.toIntExact(a.size()));
        for (int i = 0; i < v.length; i++) {
            v[i] = mean + std * v[i];
        }
        return v;
    }
}
