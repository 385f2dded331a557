package ai.fishleg.fishleg.blocks;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Embedding;
import ai.fishleg.curvature.WeightMatrix;

/**
 * The curvature block of an embedding table (the reference's {@code main} {@code FishEmbedding},
 * docs/ALGORITHM.md §5.6), for DJL's {@link Embedding} and its subclasses (such as {@code
 * TrainableWordEmbedding}).
 *
 * <p>With the table W (numEmbeddings x dim),
 *
 * <pre>
 *   Q vec_r(W) = vec_r( A ⊙ (diag(R²) (A ⊙ W) LLᵀ) ),
 * </pre>
 *
 * with L (dim x dim, identity at start), R a vector over the rows (ones; a full row factor would be
 * numEmbeddings², too large for a vocabulary) and A (numEmbeddings x dim, ones). Unlike the
 * reference, the initial scale is applied (A ← √s·A, so Q0 = s·I; docs/ALGORITHM.md §5.6 [FIX]).
 *
 * <p>Only dense gradients are supported: an embedding built with {@code SparseFormat.COO} has
 * sparse gradients that this block cannot read. {@code batchSpeedup} does not apply (ignored).
 */
public final class FishEmbedding extends KroneckerBlock {

    private FishEmbedding(
            String name, WeightMatrix layout, Embedding<?> layer, NDManager parent,
            DataType dataType, CurvatureOptions options) {
        super(name, layout, layout.parameters(layer), layer, parent, dataType,
                options.with(CurvatureOptions.Form.RESCALED), InFactor.L_LT, OutFactor.DIAGONAL);
    }

    /**
     * Attaches a block to an initialised DJL embedding.
     *
     * @param name the layer's dotted name
     * @param layer the layer (initialised)
     * @param parent manager under which the block's tensors live
     * @param options full (batchSpeedup is ignored)
     * @return the block
     */
    public static FishEmbedding forLayer(
            String name, Embedding<?> layer, NDManager parent, CurvatureOptions options) {
        WeightMatrix layout = WeightMatrix.of(layer, "embedding");
        if (layout.weightShape().dimension() != 2 || layout.bias()) {
            throw new IllegalArgumentException(
                    "embedding " + name + " has a table of shape " + layout.weightShape()
                            + "; FishEmbedding needs a 2-D (numEmbeddings x dim) table, no bias");
        }
        DataType type = layer.getParameters().get("embedding").getArray().getDataType();
        return new FishEmbedding(name, layout, layer, parent, type, options);
    }

    /** @return the number of rows of the table */
    public int getNumEmbeddings() {
        return getRows();
    }

    /** @return the embedding size */
    public int getEmbeddingSize() {
        return getCols();
    }
}
