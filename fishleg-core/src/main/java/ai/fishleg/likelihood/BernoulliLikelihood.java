package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.fishleg.util.Tensors;
import ai.djl.nn.Activation;

/**
 * Bernoulli likelihood on logits: p(y = 1 | f) = sigmoid(f) elementwise (docs/ALGORITHM.md §13.3). Targets may
 * be soft, in [0, 1] (e.g. pixel intensities of an auto-encoder).
 *
 * <pre>
 *   nll = 1/N · Σ [ f (1 − y) + softplus(−f) ]     N = batch size
 * </pre>
 *
 * (binary cross-entropy with logits, summed over outputs; the seed documentation's probit form is
 * not what the reference computes).
 */
public final class BernoulliLikelihood extends AbstractLikelihood {

    @Override
    public NDArray nll(NDArray preds, NDArray observations) {
        NDArray y = matchTargets(preds, observations);
        double n = preds.getShape().get(0);
        // softplus(-f) = max(-f, 0) + log(1 + exp(-|f|)), stable for large |f|; the 0 is an
        // engine array because the backward pass of the maximum reads it (Tensors.constant)
        try (NDArray zero = Tensors.constant(preds.getManager(), 0)) {
            NDArray softplusNeg = preds.neg().maximum(zero).add(preds.abs().neg().exp().add(1).log());
            return Tensors.mulConst(preds.mul(y.neg().add(1)).add(softplusNeg).sum(), 1 / n);
        }
    }

    @Override
    public NDArray draw(NDArray preds) {
        try (NDArray u = uniformNoise(preds);
                NDArray p = Activation.sigmoid(preds);
                NDArray hit = u.lt(p)) {
            return hit.toType(preds.getDataType(), false);
        }
    }
}
