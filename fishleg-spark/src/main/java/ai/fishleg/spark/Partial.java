package ai.fishleg.spark;

import java.io.Serializable;

/**
 * What one partition (or several, once combined) returns: sums over its examples, to be divided by
 * the global counts on the driver. For a gradient pass, {@code sums} holds the loss-weighted
 * gradient of every trainable parameter (gradient of the sum of per-example losses) and {@code
 * counts} is empty; for a K-FAC pass, {@code sums} holds Σâᵀâ and Σeᵀe per layer, and {@code
 * counts} the rows and examples per layer. A partition without examples of the batch returns
 * {@link #EMPTY}.
 *
 * @param examples the number of examples summed over
 * @param lossSum the sum of the per-example losses (gradient passes)
 * @param sums the summed arrays, flattened (empty when {@code examples} is 0)
 * @param counts per layer its rows and examples (K-FAC passes)
 */
record Partial(long examples, double lossSum, float[][] sums, long[] counts) implements Serializable {

    /** Nothing summed. */
    static final Partial EMPTY = new Partial(0, 0, new float[0][], new long[0]);

    /**
     * @param other another partition's sums of the same job
     * @return both summed
     */
    Partial plus(Partial other) {
        if (other.examples == 0) {
            return this;
        }
        if (examples == 0) {
            return other;
        }
        float[][] s = new float[sums.length][];
        for (int i = 0; i < sums.length; i++) {
            s[i] = sums[i].clone();
            float[] o = other.sums[i];
            for (int j = 0; j < o.length; j++) {
                s[i][j] += o[j];
            }
        }
        long[] c = counts.clone();
        for (int i = 0; i < c.length; i++) {
            c[i] += other.counts[i];
        }
        return new Partial(examples + other.examples, lossSum + other.lossSum, s, c);
    }

    /** @return the payload bytes of this result: the float sums, counts and the two scalars */
    long payloadBytes() {
        long floats = 0;
        for (float[] a : sums) {
            floats += a.length;
        }
        return 4 * floats + 8L * counts.length + 16;
    }
}
