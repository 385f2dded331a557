package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The curvature block of a fully connected layer (reference {@code FishLinear}, SPEC 10.1).
 *
 * <p>With weight W (out x in) and bias b (out), U = [W | b] (bias as the last column) and
 *
 * <pre>
 *   Q = D_A (RᵀR ⊗ LLᵀ) D_A     on vec_r(U),
 * </pre>
 *
 * with L ((in+1) x (in+1), identity at start) on the input side, R (out x out, identity) on the
 * output side and A (out x (in+1), all ones) a diagonal rescaling. Without a bias the column of
 * ones is left out everywhere (L is in x in). The gradients of L and R are masked to their upper
 * triangles (diagonal included), so the factors stay triangular as in the reference.
 *
 * <p>In the reference, {@code FishLinear} subclasses {@code nn.Linear} and replaces the user's
 * module. DJL blocks cannot be swapped in place, so here the block is attached to the user's
 * {@link Linear}, which stays as it is; {@link #forLayer} makes one.
 *
 * <p>With {@link CurvatureOptions#batchSpeedup()} A is left out, Q = RᵀR ⊗ LLᵀ, and Q can also be
 * applied to the minibatch gradient from the layer's inputs and output gradients without forming
 * the gradient ({@link #qg}, SPEC 9). The optimizer itself applies Q to the stored gradient U,
 * which gives the same numbers: DJL offers no hook through which FishLeg could capture a layer's
 * inputs and output gradients inside a user's model.
 */
public final class FishLinear extends KroneckerBlock {

    private final int inFeatures;
    private final int outFeatures;
    private final boolean bias;
    private final Map<String, NDArray> masks = new LinkedHashMap<>();

    /**
     * A block not attached to any model (for computing with Q directly).
     *
     * @param inFeatures input features
     * @param outFeatures output features
     * @param bias whether the layer has a bias
     * @param parent manager under which the block's tensors live
     * @param dataType element type
     * @param options full / batchSpeedup
     */
    public FishLinear(
            int inFeatures,
            int outFeatures,
            boolean bias,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        this("", new WeightMatrix("weight", new Shape(outFeatures, inFeatures), bias), List.of(),
                null, parent, dataType, options);
    }

    private FishLinear(
            String name,
            WeightMatrix layout,
            List<Supplier<NDArray>> parameters,
            Linear layer,
            NDManager parent,
            DataType dataType,
            CurvatureOptions options) {
        super(name, layout, parameters, layer, parent, dataType, options, false, false);
        this.inFeatures = layout.fan();
        this.outFeatures = layout.rows();
        this.bias = layout.bias();
        masks.put(L, register(Tensors.upperTriangularMask(manager, getCols(), dataType)));
        masks.put(R, register(Tensors.upperTriangularMask(manager, getRows(), dataType)));
    }

    private NDArray register(NDArray mask) {
        mask.attach(manager);
        return mask;
    }

    /**
     * Attaches a block to an initialised DJL {@link Linear}.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised)
     * @param parent manager under which the block's tensors live
     * @param options full / batchSpeedup
     * @return the block
     */
    public static FishLinear forLayer(
            String name, Linear layer, NDManager parent, CurvatureOptions options) {
        WeightMatrix layout = WeightMatrix.of(layer, "weight");
        DataType type = layer.getParameters().get("weight").getArray().getDataType();
        return new FishLinear(
                name, layout, layout.parameters(layer), layer, parent, type, options);
    }

    /** @return the number of input features */
    public int getInFeatures() {
        return inFeatures;
    }

    /** @return the number of output features */
    public int getOutFeatures() {
        return outFeatures;
    }

    /** @return whether the layer has a bias */
    public boolean hasBias() {
        return bias;
    }

    /**
     * The reference's {@code Qg} (SPEC 9): Q times the minibatch gradient U = Goutᵀ Â of this
     * layer, computed from the layer's inputs and output gradients without forming U:
     *
     * <pre>
     *   Qg = (RᵀR Goutᵀ) (Â LLᵀ)      Â = [inputs | 1] (n x (in+1)),  Gout (n x out)
     * </pre>
     *
     * where n is the number of rows after flattening all leading dimensions (the batch, or batch
     * times sequence length) and Gout already holds the 1/B of a mean loss. This equals {@link
     * #qv} applied to U and is cheaper when n &lt; min(out, in + 1).
     *
     * @param inputs the layer's inputs (..., in)
     * @param outputGradients dLoss/dOutput (..., out), same leading dimensions
     * @return Qg, one array per parameter (weight, bias), in the inputs' manager
     * @throws IllegalStateException if the block was not built with batchSpeedup (with A, Q does
     *     not factor over the rows)
     */
    public NDList qg(NDArray inputs, NDArray outputGradients) {
        if (usesA()) {
            throw new IllegalStateException(
                    "qg needs a block built with batchSpeedup (Q = RᵀR ⊗ LLᵀ without A); this"
                            + " block of " + getName() + " uses A: apply qv to the gradient");
        }
        long n = inputs.size() / inFeatures;
        if (inputs.size() != n * inFeatures || outputGradients.size() != n * outFeatures) {
            throw new IllegalArgumentException(
                    "inputs " + inputs.getShape() + " and output gradients "
                            + outputGradients.getShape() + " do not fit a linear layer "
                            + inFeatures + " -> " + outFeatures
                            + " with the same leading dimensions");
        }
        NDManager target = inputs.getManager();
        NDArray m = outFactor();
        NDArray k = inFactor();
        try (Scope s = Scope.open(target)) {
            s.use(m);
            s.use(k);
            s.use(inputs);
            s.use(outputGradients);
            NDArray a = inputs.reshape(n, inFeatures);
            if (bias) {
                a = a.concat(s.manager().ones(new Shape(n, 1), a.getDataType()), 1);
            }
            NDArray gOutT = outputGradients.reshape(n, outFeatures).transpose();
            NDArray qg = m.matMul(gOutT).matMul(a.matMul(k));
            return Scope.keep(fromMatrix(qg), target);
        }
    }

    @Override
    public Map<String, NDArray> getGradientMasks() {
        return masks;
    }
}
