package ai.fishleg.layers;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import java.util.List;

/**
 * The curvature block of a layer normalisation layer (reference {@code FishLayerNorm}, SPEC
 * 10.5), for DJL's {@link LayerNorm}: a diagonal Q over the elementwise scale γ ({@code gamma})
 * and shift β ({@code beta}), each shaped like the normalised shape, see {@link DiagonalBlock}.
 */
public final class FishLayerNorm extends DiagonalBlock {

    private FishLayerNorm(String name, LayerNorm layer, List<Parameter> params, NDManager parent) {
        super(name, layer, params, parent);
    }

    /**
     * Attaches a block to an initialised DJL layer normalisation layer.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised), with a trainable scale or shift
     * @param parent manager under which the block's tensors live
     * @param options ignored (a diagonal block has no A and no Qg form)
     * @return the block
     */
    public static FishLayerNorm forLayer(
            String name, LayerNorm layer, NDManager parent, CurvatureOptions options) {
        return new FishLayerNorm(name, layer, trainableParameters(name, layer), parent);
    }
}
