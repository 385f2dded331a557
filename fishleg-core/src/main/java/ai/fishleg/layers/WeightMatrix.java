package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.List;
import java.util.function.Supplier;

/**
 * How a layer's weight (out, ...) and optional bias (out) are laid out as the matrix U = [W | b] of
 * a {@link KroneckerBlock} (SPEC 10.1, 10.3, 10.6): the weight read row-major as an out x fan
 * matrix, fan = the product of its other dimensions, and the bias as an extra last column.
 *
 * @param weightName the DJL name of the weight parameter ({@code weight}, {@code embedding})
 * @param weightShape the weight's shape, output units first
 * @param bias whether the layer has a bias (named {@code bias}, shape (out))
 */
public record WeightMatrix(String weightName, Shape weightShape, boolean bias) {

    /** Name of the bias parameter. */
    public static final String BIAS = "bias";

    /**
     * The layout of an initialised DJL layer.
     *
     * @param layer the layer
     * @param weightName the name of its weight parameter
     * @return its layout (with a bias column if the layer has a {@code bias} parameter)
     */
    public static WeightMatrix of(Block layer, String weightName) {
        Parameter w = layer.getDirectParameters().get(weightName);
        if (w == null) {
            throw new IllegalArgumentException(
                    layer.getClass().getSimpleName() + " has no parameter '" + weightName
                            + "'; parameters: " + layer.getDirectParameters().keys());
        }
        boolean bias = layer.getDirectParameters().get(BIAS) != null;
        return new WeightMatrix(weightName, w.getArray().getShape(), bias);
    }

    /**
     * @param layer the layer this layout was read from
     * @return suppliers of its live weight (and bias) arrays, in block order
     */
    public List<Supplier<NDArray>> parameters(Block layer) {
        Parameter w = layer.getDirectParameters().get(weightName);
        if (!bias) {
            return List.of(w::getArray);
        }
        Parameter b = layer.getDirectParameters().get(BIAS);
        return List.of(w::getArray, b::getArray);
    }

    /** @return the parameter names in block order */
    public List<String> order() {
        return bias ? List.of(weightName, BIAS) : List.of(weightName);
    }

    /** @return rows of U: the output units */
    public int rows() {
        return Math.toIntExact(weightShape.get(0));
    }

    /** @return the weight columns of U (the fan-in) */
    public int fan() {
        return Math.toIntExact(weightShape.size() / weightShape.get(0));
    }

    /** @return columns of U: the fan-in, plus one with a bias */
    public int cols() {
        return fan() + (bias ? 1 : 0);
    }

    private boolean flat() {
        return weightShape.dimension() == 2;
    }

    /**
     * @param v weight (and bias), shaped like the parameters
     * @return U; the weight array itself when it already is U
     */
    public NDArray toMatrix(NDList v) {
        NDArray w = flat() ? v.get(0) : v.get(0).reshape(rows(), fan());
        if (!bias) {
            return w;
        }
        return w.concat(v.get(1).reshape(rows(), 1), 1);
    }

    /**
     * @param matrix an out x cols matrix
     * @return weight (and bias), shaped like the parameters
     */
    public NDList fromMatrix(NDArray matrix) {
        if (!bias) {
            return new NDList(flat() ? matrix : matrix.reshape(weightShape));
        }
        NDArray w = matrix.get(new NDIndex().addAllDim().addSliceDim(0, fan()));
        NDArray b = matrix.get(new NDIndex().addAllDim().addIndices(fan()));
        return new NDList(flat() ? w : w.reshape(weightShape), b);
    }
}
