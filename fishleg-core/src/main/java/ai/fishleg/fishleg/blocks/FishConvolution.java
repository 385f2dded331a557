package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Convolution;
import ai.fishleg.curvature.WeightMatrix;

/**
 * The curvature block of a convolution (reference {@code FishConv2d}, docs/ALGORITHM.md §5.4), for DJL's
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
 * <p>{@code batchSpeedup} is a linear-layer option (docs/ALGORITHM.md §12): a convolution block ignores it and
 * always uses the A-rescaled form.
 */
public final class FishConvolution extends KroneckerBlock {

    private FishConvolution(
            String name,
            WeightMatrix layout,
            Convolution layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        super(name, layout, layout.parameters(layer), layer, parent, dataType,
                options.with(CurvatureOptions.Form.RESCALED), InFactor.LT_L, OutFactor.MATRIX);
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
        WeightMatrix layout = WeightMatrix.of(layer, "weight");
        DataType type = layer.getParameters().get("weight").getArray().getDataType();
        return new FishConvolution(name, layout, layer, parent, type, options);
    }

    /** @return the weight's shape (out, in/groups, kernel...) */
    public Shape getWeightShape() {
        return getLayout().weightShape();
    }

    /** @return K = (in/groups) · kernel size: the weight columns of U */
    public int getFanIn() {
        return getLayout().fan();
    }

    /** @return whether the layer has a bias */
    public boolean hasBias() {
        return getLayout().bias();
    }
}
