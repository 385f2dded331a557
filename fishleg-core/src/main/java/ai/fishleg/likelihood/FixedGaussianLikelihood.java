package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.fishleg.util.Tensors;

/**
 * Gaussian likelihood with a known, fixed standard deviation σ: y = f(x) + ε, ε ~ N(0, σ²)
 * (docs/ALGORITHM.md §13.1).
 *
 * <pre>
 *   nll = 0.5/n · Σ [ log σ² + ((y − f)/σ)² ]     n = number of examples (all dims but the last)
 * </pre>
 *
 * (the constant log 2π is omitted, as in the reference).
 */
public final class FixedGaussianLikelihood extends AbstractLikelihood {

    private final double sigma;

    /**
     * @param sigma the known standard deviation, positive
     */
    public FixedGaussianLikelihood(double sigma) {
        if (!(sigma > 0) || Double.isInfinite(sigma)) {
            throw new IllegalArgumentException("sigma must be positive and finite, got " + sigma);
        }
        this.sigma = sigma;
    }

    /** @return σ (the reference calls this accessor {@code get_variance}, but it is the std) */
    public double getSigma() {
        return sigma;
    }

    @Override
    public NDArray nll(NDArray preds, NDArray observations) {
        NDArray y = matchTargets(preds, observations);
        double n = examples(preds.getShape());
        // σ as an engine array: the backward pass of the quotient reads it (Tensors.constant)
        try (NDArray s = Tensors.constant(preds.getManager(), sigma)) {
            NDArray total = preds.sub(y).div(s).square().add(Math.log(sigma * sigma)).sum();
            return Tensors.mulConst(total, 0.5 / n);
        }
    }

    @Override
    public NDArray draw(NDArray preds) {
        try (NDArray eps = gaussianNoise(preds)) {
            return preds.add(eps.mul(sigma));
        }
    }
}
