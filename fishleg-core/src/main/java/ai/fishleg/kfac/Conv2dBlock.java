package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.fishleg.curvature.WeightMatrix;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;

/**
 * The K-FAC block of a 2-d convolution (Grosse and Martens 2016, "KFC"): with weight W (out, C,
 * kh, kw) and bias b, U = [W reshaped to out x C·kh·kw | b], and every output position of every
 * example is a row: ā is the input patch the kernel sees there (with a 1 appended for the bias)
 * and g the gradient of the loss with respect to the output at that position. DJL has no unfold,
 * so the patches come from a convolution of the input with a fixed one-hot kernel of C·kh·kw
 * output channels (same stride, padding and dilation as the layer). Grouped convolutions are not
 * supported (K-FAC gives them a momentum-SGD step).
 */
public final class Conv2dBlock extends KroneckerFactoredBlock {

    private final Conv2d conv;
    private final int patch;
    private final int filters;
    private final NDArray patchKernel;

    /**
     * @param name the layer's dotted name
     * @param layer an initialised 2-d convolution with groups = 1
     * @param parent manager under which the state lives
     */
    public Conv2dBlock(String name, Conv2d layer, NDManager parent) {
        super(name, layer, WeightMatrix.of(layer, "weight"), parent);
        if (layer.getGroups() != 1) {
            throw new IllegalArgumentException(
                    "layer " + name + " is a grouped convolution (groups = " + layer.getGroups()
                            + "); the K-FAC convolution block needs groups = 1");
        }
        this.conv = layer;
        Shape weightShape = layer.getParameters().get("weight").getArray().getShape();
        this.patch = (int) (weightShape.get(1) * weightShape.get(2) * weightShape.get(3));
        this.filters = (int) weightShape.get(0);
        int channels = (int) weightShape.get(1);
        int kh = (int) weightShape.get(2);
        int kw = (int) weightShape.get(3);
        double[] k = new double[patch * patch];
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int row = (c * kh + i) * kw + j; // the column of the flattened weight
                    k[row * patch + row] = 1;
                }
            }
        }
        this.patchKernel = Tensors.create(manager, k, new Shape(patch, channels, kh, kw), dataType);
    }

    /**
     * @param input (B, C, H, W)
     * @param scope owns the result
     * @return the patches, one row per example and output position (B·H'·W', C·kh·kw)
     */
    @Override
    protected NDArray inputRows(NDArray input, Scope scope) {
        NDArray p = Conv2d.conv2d(input, scope.use(patchKernel), null, conv.getStride(),
                conv.getPadding(), conv.getDilation(), 1).singletonOrThrow();
        return p.transpose(0, 2, 3, 1).reshape(-1, patch);
    }

    @Override
    protected NDArray outputRows(NDArray outputGradient) {
        return outputGradient.transpose(0, 2, 3, 1).reshape(-1, filters);
    }
}
