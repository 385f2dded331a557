package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;

/**
 * The curvature block of a normalisation layer (reference {@code FishBatchNorm2d} and {@code
 * FishLayerNorm}, docs/ALGORITHM.md §5.5): a diagonal Q ({@link DiagonalBlock}) over the layer's trainable
 * scale γ ({@code gamma}) and shift β ({@code beta}). It serves DJL's {@link BatchNorm} (any axis,
 * and subclasses such as {@code GhostBatchNorm}), whose γ and β are per channel, and {@link
 * LayerNorm}, whose γ and β are shaped like the normalised shape.
 *
 * <p>A batch normalisation's running mean and variance are not parameters of Q. FishLeg's
 * auxiliary forward passes (sampling, sampled-label gradients, warm-up) run the layer in training
 * mode, which moves those statistics in place; the optimizer saves and restores them around every
 * such pass, so they follow the user's training batches only.
 */
public final class FishNormalization extends DiagonalBlock {

    private FishNormalization(String name, Block layer, List<Parameter> params, NDManager parent) {
        super(name, layer, params, parent);
    }

    /**
     * Attaches a block to an initialised DJL normalisation layer.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised; a {@link BatchNorm} or {@link LayerNorm}), with a
     *     trainable scale or shift
     * @param parent manager under which the block's tensors live
     * @param options ignored (a diagonal block has no A and no Qg form)
     * @return the block
     */
    public static FishNormalization forLayer(
            String name, Block layer, NDManager parent, CurvatureOptions options) {
        return new FishNormalization(name, layer, trainableParameters(name, layer), parent);
    }

    /**
     * The trainable direct parameters of a layer, in the layer's order.
     *
     * @param name the layer's dotted name (for the error message)
     * @param layer the layer
     * @return its parameters that require gradients
     * @throws IllegalArgumentException if there are none
     */
    private static List<Parameter> trainableParameters(String name, Block layer) {
        List<Parameter> out = new ArrayList<>();
        for (Pair<String, Parameter> p : layer.getDirectParameters()) {
            if (p.getValue().requiresGradient()) {
                out.add(p.getValue());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(
                    "layer " + name + " (" + layer.getClass().getSimpleName() + ") has no"
                            + " trainable parameter (no scale and no centre?), so FishLeg has"
                            + " nothing to manage there; do not select it");
        }
        return out;
    }
}
