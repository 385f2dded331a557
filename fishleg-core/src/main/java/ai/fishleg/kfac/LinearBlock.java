package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.List;

/**
 * The K-FAC block of a fully connected layer y = x Wᵀ + b: U = [∇W | ∇b] (out x (in + 1), the bias
 * as the last column; without a bias U = ∇W), ā = [x, 1] for every row of the input (all leading
 * dimensions are rows, as DJL's {@link Linear} applies to the last one).
 */
public final class LinearBlock extends KroneckerFactoredBlock {

    private final Parameter weight;
    private final Parameter bias;
    /** The layout [W | b] of the layer's parameters as one matrix, as FishLeg's blocks use it. */
    private final WeightMatrix layout;
    private final int inFeatures;
    private final int outFeatures;

    /**
     * @param name the layer's dotted name
     * @param layer an initialised linear layer
     * @param parent manager under which the state lives
     */
    public LinearBlock(String name, Linear layer, NDManager parent) {
        this(name, layer, layer.getParameters().get("weight"),
                layer.getParameters().contains("bias") ? layer.getParameters().get("bias") : null,
                parent);
    }

    private LinearBlock(
            String name, Linear layer, Parameter weight, Parameter bias, NDManager parent) {
        super(name, layer, parent, weight.getArray().getDataType(),
                (int) weight.getArray().getShape().get(1) + (bias != null ? 1 : 0),
                (int) weight.getArray().getShape().get(0));
        this.weight = weight;
        this.bias = bias;
        this.layout = WeightMatrix.of(layer, "weight");
        this.inFeatures = (int) weight.getArray().getShape().get(1);
        this.outFeatures = (int) weight.getArray().getShape().get(0);
    }

    @Override
    public List<NDArray> getParameterArrays() {
        List<NDArray> out = new ArrayList<>(2);
        out.add(weight.getArray());
        if (bias != null) {
            out.add(bias.getArray());
        }
        return out;
    }

    @Override
    public List<String> getParameterNames() {
        return layout.order();
    }

    @Override
    protected NDArray gradientMatrix(NDList gradient) {
        return layout.toMatrix(gradient);
    }

    @Override
    protected NDList fromMatrix(NDArray u) {
        return layout.fromMatrix(u);
    }

    @Override
    protected Rows rowsOf(NDArray input, NDArray outputGradient, Scope scope) {
        NDArray x = input.reshape(-1, inFeatures);
        NDArray g = outputGradient.reshape(-1, outFeatures);
        if (bias == null) {
            return new Rows(x, g);
        }
        NDArray ones = scope.manager().ones(new Shape(x.getShape().get(0), 1), x.getDataType());
        return new Rows(NDArrays.concat(new NDList(x, ones), 1), g);
    }
}
