package ai.fishleg.layers;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import java.util.List;

/**
 * The curvature block of an embedding table (the reference's {@code main} {@code FishEmbedding},
 * SPEC 10.6), for DJL's {@link Embedding} and its subclasses (such as {@code
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
 * reference, the initial scale is applied (A ← √s·A, so Q0 = s·I; SPEC 10.6 [FIX]).
 *
 * <p>Only dense gradients are supported: an embedding built with {@code SparseFormat.COO} has
 * sparse gradients that this block cannot read. {@code batchSpeedup} does not apply (ignored).
 */
public final class FishEmbedding extends KroneckerBlock {

    private FishEmbedding(
            String name, Parameter table, Embedding<?> layer, NDManager parent,
            CurvatureOptions options) {
        super(
                name,
                List.of(table.getName()),
                List.of(table::getArray),
                layer,
                parent,
                table.getArray().getDataType(),
                Math.toIntExact(table.getArray().getShape().get(0)),
                Math.toIntExact(table.getArray().getShape().get(1)),
                new CurvatureOptions(options.full(), false),
                false,
                true);
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
        Parameter table = layer.getParameters().get("embedding");
        Shape shape = table.getArray().getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException(
                    "embedding " + name + " has a table of shape " + shape
                            + "; FishEmbedding needs a 2-D (numEmbeddings x dim) table");
        }
        return new FishEmbedding(name, table, layer, parent, options);
    }

    /** @return the number of rows of the table */
    public int getNumEmbeddings() {
        return getRows();
    }

    /** @return the embedding size */
    public int getEmbeddingSize() {
        return getCols();
    }

    @Override
    protected NDArray toMatrix(NDList v) {
        return v.get(0);
    }

    @Override
    protected NDList fromMatrix(NDArray matrix) {
        return new NDList(matrix);
    }
}
