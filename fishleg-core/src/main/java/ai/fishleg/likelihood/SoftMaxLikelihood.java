package ai.fishleg.likelihood;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.fishleg.util.Tensors;

/**
 * Categorical likelihood on logits with one-hot targets (docs/ALGORITHM.md §13.4).
 *
 * <pre>
 *   nll = −1/N · Σ_n Σ_c y_nc · log_softmax(f)_nc
 * </pre>
 *
 * {@link #draw} returns one-hot rows (float, in the predictions' type); the reference's seed
 * version took the log of raw logits there, which is fixed.
 */
public final class SoftMaxLikelihood extends AbstractLikelihood {

    @Override
    public NDArray nll(NDArray preds, NDArray observations) {
        NDArray y = matchTargets(preds, observations);
        double n = examples(preds.getShape());
        return Tensors.mulConst(preds.logSoftmax(-1).mul(y).sum(), -1 / n);
    }

    @Override
    public NDArray draw(NDArray preds) {
        long classes = preds.getShape().get(preds.getShape().dimension() - 1);
        double[] p;
        try (NDArray probs = preds.softmax(-1); NDArray p64 = probs.toType(DataType.FLOAT64, true)) {
            p = p64.toDoubleArray();
        }
        int c = Math.toIntExact(classes);
        double[] oneHot = new double[p.length];
        for (int row = 0; row < p.length / c; row++) {
            double r = getRng().nextDouble();
            int k = c - 1; // rounding can leave the cumulative sum just below r
            double cum = 0;
            for (int j = 0; j < c; j++) {
                cum += p[row * c + j];
                if (r < cum) {
                    k = j;
                    break;
                }
            }
            oneHot[row * c + k] = 1;
        }
        return Tensors.create(preds.getManager(), oneHot, preds.getShape(), preds.getDataType());
    }
}
