package ai.fishleg.curvature;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.List;
import java.util.function.Supplier;

/**
 * How a layer's weight (out, ...) and optional bias (out) are laid out as the matrix U = [W | b] of
 * a {@link KroneckerBlock} (docs/ALGORITHM.md §5.1): the weight read row-major as an out x fan
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
        return toMatrix(v, cols());
    }

    /**
     * U with zero columns appended up to {@code width} (see {@link #paddedCols}).
     *
     * @param v weight (and bias), shaped like the parameters
     * @param width columns of the result, at least {@link #cols()}
     * @return [U | 0], in the manager of v's weight; the weight array itself when it already is
     *     the result
     */
    public NDArray toMatrix(NDList v, int width) {
        NDArray w = flat() ? v.get(0) : v.get(0).reshape(rows(), fan());
        int pad = width - cols();
        if (!bias && pad == 0) {
            return w;
        }
        NDList parts = new NDList(3);
        parts.add(w);
        if (bias) {
            parts.add(v.get(1).reshape(rows(), 1));
        }
        if (pad > 0) {
            parts.add(w.getManager().zeros(new Shape(rows(), pad), w.getDataType()));
        }
        return NDArrays.concat(parts, 1);
    }

    /**
     * @param width columns of {@link #toMatrix(NDList, int)}'s result
     * @return whether that result is a new array (a concatenation) rather than the weight array
     *     itself or a view of it
     */
    public boolean copies(int width) {
        return bias || width > cols();
    }

    /**
     * The width to which matrix products pad U: the columns rounded up to a whole number of
     * 64-byte lines (16 float32 or 8 float64 values). Products whose inner or outer size is such a
     * multiple run much faster on CPUs (measured: the Fashion-MNIST auto-encoder's Qv products
     * take about two thirds of the time with 785 -> 800 and 1001 -> 1008), and the extra zero
     * columns change no value of U's own columns.
     *
     * @param dataType element type
     * @return the padded width
     */
    public int paddedCols(DataType dataType) {
        int line = Math.max(1, 64 / Math.max(1, dataType.getNumOfBytes()));
        return (cols() + line - 1) / line * line;
    }

    /**
     * @param matrix an out x cols matrix, or a wider one whose extra columns are ignored
     * @return weight (and bias), shaped like the parameters (views of the matrix where possible)
     */
    public NDList fromMatrix(NDArray matrix) {
        boolean wider = matrix.getShape().get(1) > cols();
        if (!bias) {
            NDArray w = wider ? matrix.get(new NDIndex().addAllDim().addSliceDim(0, fan()))
                    : matrix;
            return new NDList(flat() ? w : w.reshape(weightShape));
        }
        NDArray w = matrix.get(new NDIndex().addAllDim().addSliceDim(0, fan()));
        NDArray b = matrix.get(new NDIndex().addAllDim().addIndices(fan()));
        return new NDList(flat() ? w : w.reshape(weightShape), b);
    }
}
