package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.core.Linear;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Scope;

/**
 * The K-FAC block of a fully connected layer y = x Wᵀ + b: U = [∇W | ∇b] (out x (in + 1), the bias
 * as the last column; without a bias U = ∇W), ā = [x, 1] for every row of the input (all leading
 * dimensions are rows, as DJL's {@link Linear} applies to the last one).
 */
public final class LinearBlock extends KroneckerFactoredBlock {

    private final int inFeatures;
    private final int outFeatures;

    /**
     * @param name the layer's dotted name
     * @param layer an initialised linear layer
     * @param parent manager under which the state lives
     */
    public LinearBlock(String name, Linear layer, NDManager parent) {
        this(name, layer, WeightMatrix.of(layer, "weight"), parent);
    }

    private LinearBlock(String name, Linear layer, WeightMatrix layout, NDManager parent) {
        super(name, layer, layout, parent);
        this.inFeatures = layout.fan();
        this.outFeatures = layout.rows();
    }

    @Override
    protected NDArray inputRows(NDArray input, Scope scope) {
        return input.reshape(-1, inFeatures);
    }

    @Override
    protected NDArray outputRows(NDArray outputGradient) {
        return outputGradient.reshape(-1, outFeatures);
    }
}
