package ai.fishleg.util;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;

/** Small NDArray helpers used across the library, each in one place. */
public final class Tensors {

    private static final NDIndex ALL = new NDIndex("...");

    private Tensors() {}

    /**
     * Copies {@code source} into {@code target} in place (same shape), without going through the
     * JVM heap. Unlike {@code target.muli(0).addi(source)} it also overwrites NaN or infinite values.
     *
     * @param target the array to overwrite
     * @param source the values
     */
    public static void assign(NDArray target, NDArray source) {
        target.set(ALL, source);
    }

    /**
     * Sets every element of {@code target} to zero in place (also NaN or infinite ones).
     *
     * @param target the array to clear
     */
    public static void zero(NDArray target) {
        // Broadcasting a 0-d zero is a plain fill; set(ALL, 0) builds a full array of the scalar
        // first (measured: 13x slower on a 1000 x 784 gradient).
        try (NDArray z = target.getManager().zeros(new Shape(), target.getDataType())) {
            target.set(ALL, z);
        }
    }

    /**
     * Multiplies by a constant without changing the element type. (DJL turns a Java double into a
     * float64 scalar, and PyTorch promotes a 0-dimensional float32 array multiplied by it to
     * float64; a float32 model must get float32 losses.)
     *
     * @param a an array
     * @param factor the constant
     * @return a · factor, in a's type
     */
    public static NDArray mulConst(NDArray a, double factor) {
        Number n = a.getDataType() == DataType.FLOAT64 ? (Number) factor : (Number) (float) factor;
        try (NDArray c = constant(a.getManager(), n)) {
            return a.mul(c);
        }
    }

    /**
     * A 0-dimensional array of a Java number, of the type DJL gives it ({@code manager.create(n)}),
     * whose values the engine allocated. Use it instead of DJL's {@code NDArray} methods taking a
     * {@code Number} wherever the result is differentiated. On PyTorch those methods ({@code
     * mul}, {@code div}, {@code pow}, {@code maximum}, {@code minimum}, ...) wrap the number in an
     * array whose values live in a Java direct buffer, and close that array right after the
     * operation; the autograd graph still refers to the values (the backward pass of a product
     * needs the other factor), but nothing on the Java side keeps the buffer, so a garbage
     * collection between the forward and the backward pass frees it and the backward pass reads
     * whatever the memory then holds. (Sums and differences do not keep their operands, and outside
     * a backward pass the array is used at once; there {@code Number} arguments are safe.)
     *
     * @param manager owns the result
     * @param n the number
     * @return the number as a 0-dimensional array in engine-allocated memory
     */
    public static NDArray constant(NDManager manager, Number n) {
        try (NDArray borrowed = manager.create(n)) {
            return borrowed.duplicate();
        }
    }

    /**
     * Sum over all elements of the products of two lists of arrays (Frobenius inner product over
     * blocks): one inner product per pair on the engine, all read back at once, added in list
     * order in double precision (the same value as adding {@link #dot(NDArray, NDArray)} pair by
     * pair).
     *
     * @param a first list
     * @param b second list, same shapes
     * @return sum_i <a_i, b_i>
     */
    public static double dot(NDList a, NDList b) {
        return sum(dots(a, b));
    }

    /**
     * The inner products of pairs of arrays, computed on the engine and read back at once.
     *
     * @param a first list
     * @param b second list, same shapes
     * @return ⟨a_i, b_i⟩ per pair, each the value {@link #dot(NDArray, NDArray)} gives
     */
    public static double[] dots(NDList a, NDList b) {
        if (a.isEmpty()) {
            return new double[0];
        }
        if (a.size() == 1) {
            return new double[] {dot(a.get(0), b.get(0))};
        }
        try (NDList parts = new NDList()) {
            for (int i = 0; i < a.size(); i++) {
                parts.add(dotArray(a.get(i), b.get(i)));
            }
            return scalars(parts);
        }
    }

    /**
     * Inner products of lists of blocks, all computed on the engine and read back at once:
     * {@code result[j][k]} is {@link #dot(NDList, NDList)} of block k of {@code left.get(j)} and
     * block k of {@code right.get(j)}, the same value.
     *
     * @param left per product, a list of blocks
     * @param right per product, the matching blocks (same shapes)
     * @return per product, per block, the inner product
     */
    public static double[][] blockDots(List<List<NDList>> left, List<List<NDList>> right) {
        NDList a = new NDList();
        NDList b = new NDList();
        for (int j = 0; j < left.size(); j++) {
            for (int k = 0; k < left.get(j).size(); k++) {
                a.addAll(left.get(j).get(k));
                b.addAll(right.get(j).get(k));
            }
        }
        double[] products = dots(a, b);
        double[][] out = new double[left.size()][];
        int i = 0;
        for (int j = 0; j < left.size(); j++) {
            out[j] = new double[left.get(j).size()];
            for (int k = 0; k < out[j].length; k++) {
                double s = 0; // in pair order from 0, as dot(NDList, NDList)
                for (int n = left.get(j).get(k).size(); n > 0; n--) {
                    s += products[i++];
                }
                out[j][k] = s;
            }
        }
        return out;
    }

    /**
     * @param values numbers
     * @return their sum, added in order from 0
     */
    public static double sum(double[] values) {
        double s = 0;
        for (double v : values) {
            s += v;
        }
        return s;
    }

    /**
     * @param a first array
     * @param b second array, same shape
     * @return the sum of the elementwise products, as a double
     */
    public static double dot(NDArray a, NDArray b) {
        try (NDArray s = dotArray(a, b)) {
            return scalar(s);
        }
    }

    /** The sum of the elementwise products as a 0-d array, a new array. */
    private static NDArray dotArray(NDArray a, NDArray b) {
        if (a.getDataType() != b.getDataType()) { // promoted elementwise (dot needs one type)
            try (NDArray p = a.mul(b)) {
                return p.sum();
            }
        }
        // A BLAS dot of flattened views: one read of each array, no array of products.
        if (a.getShape().dimension() == 1) {
            return a.dot(b);
        }
        try (NDArray fa = a.flatten(); NDArray fb = b.flatten()) {
            return fa.dot(fb);
        }
    }

    /**
     * The values of 0-d arrays of floating-point types, with one read-back: each exactly as
     * {@link #scalar} gives it.
     *
     * @param arrays 0-d arrays (at least one)
     * @return their values, in order
     */
    public static double[] scalars(NDList arrays) {
        DataType type = arrays.get(0).getDataType();
        boolean oneType = arrays.stream().allMatch(x -> x.getDataType() == type);
        try (NDList widened = new NDList()) {
            if (!oneType) {
                for (NDArray x : arrays) { // widening to float64 is exact
                    widened.add(x.toType(DataType.FLOAT64, true));
                }
            }
            try (NDArray all = NDArrays.stack(oneType ? arrays : widened)) {
                if (all.getDataType() == DataType.FLOAT32) {
                    float[] f = all.toFloatArray();
                    double[] d = new double[f.length];
                    for (int i = 0; i < f.length; i++) {
                        d[i] = f[i];
                    }
                    return d;
                }
                if (all.getDataType() == DataType.FLOAT64) {
                    return all.toDoubleArray();
                }
                try (NDArray d = all.toType(DataType.FLOAT64, false)) {
                    return d.toDoubleArray();
                }
            }
        }
    }

    /**
     * @param a a scalar (or one-element) array of a floating-point type
     * @return its value as a double
     */
    public static double scalar(NDArray a) {
        switch (a.getDataType()) {
            case FLOAT64:
                return a.getDouble();
            case FLOAT32:
                return a.getFloat();
            default:
                try (NDArray d = a.toType(DataType.FLOAT64, true)) {
                    return d.getDouble();
                }
        }
    }

    /**
     * @param a an array
     * @return the sum of squares of its elements
     */
    public static double squaredNorm(NDArray a) {
        return dot(a, a);
    }

    /**
     * @param a an array of any shape
     * @return whether every element is finite
     */
    public static boolean isFinite(NDArray a) {
        try (NDArray nan = a.isNaN(); NDArray inf = a.isInfinite();
                NDArray bad = nan.logicalOr(inf); NDArray any = bad.any()) {
            return !any.getBoolean();
        }
    }

    /**
     * Whether every element of every array is finite, at the cost of one sum per array and a
     * single read-back of all the sums ({@link #scalars}): a sum is finite only if all its terms
     * are, so finite sums prove it. Only when a sum is not finite (a non-finite element, or a sum
     * of finite values that overflowed) are the arrays tested elementwise with {@link #isFinite}.
     *
     * @param arrays arrays of a floating-point type
     * @return whether all their elements are finite
     */
    public static boolean allFinite(List<NDArray> arrays) {
        if (arrays.isEmpty()) {
            return true;
        }
        try (NDList sums = new NDList()) {
            for (NDArray a : arrays) {
                sums.add(a.sum());
            }
            if (java.util.Arrays.stream(scalars(sums)).allMatch(Double::isFinite)) {
                return true;
            }
        }
        for (NDArray a : arrays) {
            if (!isFinite(a)) {
                return false;
            }
        }
        return true;
    }

    /**
     * An upper-triangular 0/1 matrix (diagonal included).
     *
     * @param manager where to create it
     * @param n size
     * @param dataType element type
     * @return the mask
     */
    public static NDArray upperTriangularMask(NDManager manager, int n, DataType dataType) {
        double[] m = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                m[i * n + j] = 1;
            }
        }
        return create(manager, m, new Shape(n, n), dataType);
    }

    /**
     * Creates an array from doubles in the requested type.
     *
     * @param manager where to create it
     * @param values row-major values
     * @param shape the shape
     * @param dataType element type
     * @return the array
     */
    public static NDArray create(NDManager manager, double[] values, Shape shape, DataType dataType) {
        NDArray d = manager.create(values, shape);
        if (dataType == DataType.FLOAT64) {
            return d;
        }
        NDArray t = d.toType(dataType, false);
        d.close();
        return t;
    }
}
