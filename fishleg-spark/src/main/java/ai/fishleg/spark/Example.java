package ai.fishleg.spark;

import java.io.Serializable;

/**
 * One training example as the executors keep it: its position in the data set (the id the
 * driver's batches name) and its values. An auto-encoder's label is its features (the same array).
 *
 * @param id the example's index, 0 to n − 1
 * @param features the model input, flattened
 * @param label the target, flattened
 */
public record Example(long id, float[] features, float[] label) implements Serializable {}
