package ai.fishleg.spark;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.likelihood.FishLikelihood;
import java.io.Serializable;

/**
 * How an executor builds its replica of the driver's model: the same network and likelihood, and
 * the shapes of one example's features and label. It is serialized to the executors, so it must
 * hold only what rebuilds the model (a task name, layer sizes), never the model itself. The
 * replica's parameters are overwritten from the driver's at every step.
 */
public interface ReplicaSpec extends Serializable {

    /** @return a new, uninitialised network of the driver model's architecture */
    Block newModel();

    /** @return a new likelihood of the driver's kind (no learnable parameters) */
    FishLikelihood newLikelihood();

    /**
     * @param examples the number of examples
     * @return the shape of the model's input for that many examples (examples first)
     */
    Shape inputShape(long examples);

    /**
     * @param examples the number of examples
     * @return the shape of the labels for that many examples (examples first)
     */
    Shape labelShape(long examples);

    /** @return the element type of the parameters and data (FLOAT32 unless overridden) */
    default DataType dataType() {
        return DataType.FLOAT32;
    }
}
