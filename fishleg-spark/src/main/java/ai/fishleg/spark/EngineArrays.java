package ai.fishleg.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.util.Tensors;

/**
 * Arrays made from Java data whose memory the engine owns. On PyTorch, DJL's {@code create} of
 * Java data and {@code set} of a buffer make the tensor's storage point at a direct {@code
 * ByteBuffer} that only the Java array object keeps alive; a native tensor that outlives that
 * object (a saved autograd tensor, a view, a second handle) reads freed memory after a garbage
 * collection (docs/SPARK.md, issue 25). Every array here is an engine copy of such an array,
 * which is closed at once.
 */
final class EngineArrays {

    private EngineArrays() {}

    /**
     * @param manager owns the result
     * @param values the values, row-major
     * @param shape their shape
     * @param type the result's element type
     * @return an engine-owned array of the values
     */
    static NDArray floats(NDManager manager, float[] values, Shape shape, DataType type) {
        try (NDArray aliased = manager.create(values, shape)) {
            return aliased.toType(type, true);
        }
    }

    /**
     * @param manager owns the result
     * @param values the values
     * @return an engine-owned INT64 array of the values
     */
    static NDArray longs(NDManager manager, long[] values) {
        try (NDArray aliased = manager.create(values)) {
            return aliased.toType(DataType.INT64, true);
        }
    }

    /**
     * Overwrites an array's values in place with an engine copy (its storage stays the engine's).
     *
     * @param target the array to overwrite
     * @param values its new values, row-major, as many as it has elements
     */
    static void write(NDArray target, float[] values) {
        try (NDManager temporary = target.getManager().newSubManager()) {
            Tensors.assign(target,
                    floats(temporary, values, target.getShape(), target.getDataType()));
        }
    }
}
