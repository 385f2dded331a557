package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.ScalarScaleBlock;
import ai.fishleg.util.Tensors;
import java.util.List;

/**
 * Gaussian likelihood with a learnable standard deviation σ, which FishLeg trains with its own
 * curvature block (Q = λ²·I, docs/ALGORITHM.md §5.7).
 *
 * <pre>
 *   nll = 0.5/N · Σ [ log σ² + ((y − f)/σ)² ]     N = batch size (first dimension)
 * </pre>
 */
public final class GaussianLikelihood extends AbstractLikelihood implements AutoCloseable {

    private final NDArray sigma;

    /**
     * @param manager owner of the σ parameter
     * @param sigma initial standard deviation, non-zero
     * @param dataType element type of σ (use the model's)
     */
    public GaussianLikelihood(NDManager manager, double sigma, DataType dataType) {
        if (sigma == 0 || !Double.isFinite(sigma)) {
            throw new IllegalArgumentException("sigma must be finite and non-zero, got " + sigma);
        }
        this.sigma = Tensors.create(manager, new double[] {sigma}, new Shape(), dataType);
        this.sigma.setName("sigma");
        this.sigma.setRequiresGradient(true);
    }

    /** @return the learnable σ (a scalar array with a gradient attached) */
    public NDArray getSigma() {
        return sigma;
    }

    @Override
    public NDArray nll(NDArray preds, NDArray observations) {
        NDArray y = matchTargets(preds, observations);
        double n = preds.getShape().get(0);
        // σ² belongs to σ's manager; move it to the predictions' so temporaries die with them.
        NDArray var = sigma.square();
        var.attach(preds.getManager());
        if (var.getDataType() != preds.getDataType()) {
            var = var.toType(preds.getDataType(), false);
        }
        // the size as an engine array: the backward pass of the product reads it (Tensors.constant)
        try (NDArray size = Tensors.constant(preds.getManager(), preds.size())) {
            NDArray logVar = var.log().mul(size);
            return Tensors.mulConst(preds.sub(y).square().div(var).sum().add(logVar), 0.5 / n);
        }
    }

    @Override
    public NDArray draw(NDArray preds) {
        double s = Tensors.scalar(sigma);
        try (NDArray eps = gaussianNoise(preds)) {
            return preds.add(eps.mul(s));
        }
    }

    @Override
    public List<NDArray> getParameters() {
        return List.of(sigma);
    }

    @Override
    public CurvatureBlock createCurvatureBlock(NDManager parent, double initScale) {
        ScalarScaleBlock block =
                new ScalarScaleBlock("likelihood", List.of("sigma"), List.of(sigma), parent);
        block.warmup(null, initScale);
        return block;
    }

    @Override
    public void close() {
        sigma.close();
    }
}
