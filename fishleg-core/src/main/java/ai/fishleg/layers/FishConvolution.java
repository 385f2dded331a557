package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Convolution;
import java.util.List;
import java.util.function.Supplier;

/**
 * The curvature block of a convolution (reference {@code FishConv2d}, SPEC 10.3), for DJL's
 * {@link ai.djl.nn.convolutional.Conv2d} and, since the weight layout is the same, {@link
 * ai.djl.nn.convolutional.Conv1d} and {@link ai.djl.nn.convolutional.Conv3d}.
 *
 * <p>The weight (out, in/groups, k1, k2, ...) is read row-major as an out x K matrix, K =
 * (in/groups)·k1·k2·… (column index c·k1·k2 + i·k2 + j for a 2-D kernel), with the bias (if any)
 * as an extra last column: U = [W | b] is out x (K + 1). Then
 *
 * <pre>
 *   Q = D_A (RᵀR ⊗ LᵀL) D_A     on vec_r(U),
 * </pre>
 *
 * with L ((K+1) x (K+1), identity at start), R (out x out, identity) and A (out x (K+1), ones).
 * The in-side factor is LᵀL, where {@link FishLinear} uses LLᵀ, as in the reference. Stride,
 * padding and dilation do not enter Q; with groups, L covers the per-group fan-in and R mixes all
 * output channels (a valid PSD preconditioner, not group-block-diagonal). No triangular masks.
 *
 * <p>{@code batchSpeedup} is a linear-layer option (SPEC 9): a convolution block ignores it and
 * always uses the A-rescaled form.
 */
public final class FishConvolution extends KroneckerBlock {

    private final Shape weightShape;
    private final int outChannels;
    private final int fanIn;
    private final boolean bias;

    private FishConvolution(
            String name,
            Shape weightShape,
            boolean bias,
            List<Supplier<NDArray>> parameters,
            Convolution layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        super(
                name,
                bias ? List.of("weight", "bias") : List.of("weight"),
                parameters,
                layer,
                parent,
                dataType,
                Math.toIntExact(weightShape.get(0)),
                Math.toIntExact(weightShape.size() / weightShape.get(0)) + (bias ? 1 : 0),
                new CurvatureOptions(options.full(), false),
                true);
        this.weightShape = weightShape;
        this.outChannels = Math.toIntExact(weightShape.get(0));
        this.fanIn = Math.toIntExact(weightShape.size() / weightShape.get(0));
        this.bias = bias;
    }

    /**
     * Attaches a block to an initialised DJL convolution.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised)
     * @param parent manager under which the block's tensors live
     * @param options full (batchSpeedup is ignored)
     * @return the block
     */
    public static FishConvolution forLayer(
            String name, Convolution layer, NDManager parent, CurvatureOptions options) {
        Parameter weight = layer.getParameters().get("weight");
        Parameter biasParam = layer.getParameters().get("bias");
        NDArray w = weight.getArray();
        List<Supplier<NDArray>> params =
                biasParam == null
                        ? List.of(weight::getArray)
                        : List.of(weight::getArray, biasParam::getArray);
        return new FishConvolution(
                name, w.getShape(), biasParam != null, params, layer, parent, w.getDataType(),
                options);
    }

    /** @return the weight's shape (out, in/groups, kernel...) */
    public Shape getWeightShape() {
        return weightShape;
    }

    /** @return K = (in/groups) · kernel size: the weight columns of U */
    public int getFanIn() {
        return fanIn;
    }

    /** @return whether the layer has a bias */
    public boolean hasBias() {
        return bias;
    }

    @Override
    protected NDArray toMatrix(NDList v) {
        NDArray w = v.get(0).reshape(outChannels, fanIn);
        if (!bias) {
            return w;
        }
        return w.concat(v.get(1).reshape(outChannels, 1), 1);
    }

    @Override
    protected NDList fromMatrix(NDArray matrix) {
        if (!bias) {
            return new NDList(matrix.reshape(weightShape));
        }
        NDArray w = matrix.get(new NDIndex().addAllDim().addSliceDim(0, fanIn));
        NDArray b = matrix.get(new NDIndex().addAllDim().addIndices(fanIn));
        return new NDList(w.reshape(weightShape), b);
    }
}
