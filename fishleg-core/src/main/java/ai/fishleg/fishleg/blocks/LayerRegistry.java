package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Convolution;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Which DJL layer types FishLeg can manage, and how to build the curvature block of each. Lookup
 * is by exact class first, then by the nearest registered superclass, so subclasses of a supported
 * layer are managed like it. Users can register blocks for their own layer types.
 *
 * <p>Built in:
 *
 * <ul>
 *   <li>{@link Linear} → {@link FishLinear};
 *   <li>{@link Convolution} ({@code Conv1d}, {@code Conv2d}, {@code Conv3d}) → {@link
 *       FishConvolution};
 *   <li>{@link BatchNorm} (and {@code GhostBatchNorm}) and {@link LayerNorm} → {@link
 *       FishNormalization};
 *   <li>{@link Embedding} (for example {@code TrainableWordEmbedding}) → {@link FishEmbedding}.
 * </ul>
 */
public final class LayerRegistry {

    /** Builds the curvature block of one layer. */
    @FunctionalInterface
    public interface Factory {
        /**
         * @param name the layer's dotted name
         * @param layer the layer (initialised)
         * @param parent manager for the block's tensors
         * @param options whether A is learned / batchSpeedup
         * @return the block
         */
        CurvatureBlock create(String name, Block layer, NDManager parent, CurvatureOptions options);
    }

    private static final Map<Class<? extends Block>, Factory> FACTORIES = new LinkedHashMap<>();

    static {
        register(Linear.class, (n, b, m, o) -> FishLinear.forLayer(n, (Linear) b, m, o));
        register(Convolution.class,
                (n, b, m, o) -> FishConvolution.forLayer(n, (Convolution) b, m, o));
        register(BatchNorm.class, FishNormalization::forLayer);
        register(LayerNorm.class, FishNormalization::forLayer);
        register(Embedding.class,
                (n, b, m, o) -> FishEmbedding.forLayer(n, (Embedding<?>) b, m, o));
    }

    private LayerRegistry() {}

    /**
     * Registers (or replaces) the curvature block of a layer type.
     *
     * @param type the DJL block class
     * @param factory how to build its block
     */
    public static synchronized void register(Class<? extends Block> type, Factory factory) {
        FACTORIES.put(type, factory);
    }

    /**
     * @param layer a block
     * @return the factory for its type, or null when FishLeg cannot manage it
     */
    public static synchronized Factory factoryFor(Block layer) {
        for (Class<?> c = layer.getClass(); c != null; c = c.getSuperclass()) {
            Factory f = FACTORIES.get(c);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    /** @return the simple names of the supported layer types */
    public static synchronized java.util.List<String> supportedTypes() {
        return FACTORIES.keySet().stream().map(Class::getSimpleName).toList();
    }
}
