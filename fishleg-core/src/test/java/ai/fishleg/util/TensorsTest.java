package ai.fishleg.util;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The batched read-backs of {@link Tensors}: the same values as one read-back per array. */
class TensorsTest {

    private static NDArray random(NDManager m, Rng rng, DataType type, long... shape) {
        int n = (int) new Shape(shape).size();
        return Tensors.create(m, rng.gaussians(n), new Shape(shape), type);
    }

    /** The plain sum of products, in double precision, from the arrays' values. */
    private static double javaDot(NDArray a, NDArray b) {
        double[] x = a.toType(DataType.FLOAT64, true).toDoubleArray();
        double[] y = b.toType(DataType.FLOAT64, true).toDoubleArray();
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += x[i] * y[i];
        }
        return s;
    }

    @Test
    void blockDotsAreThePerArrayInnerProductsSummedInOrder() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(3);
            List<NDList> left = List.of(
                    new NDList(random(m, rng, DataType.FLOAT32, 7, 5), random(m, rng, DataType.FLOAT32, 7)),
                    new NDList(random(m, rng, DataType.FLOAT32, 3, 4)));
            List<NDList> right = List.of(
                    new NDList(random(m, rng, DataType.FLOAT32, 7, 5), random(m, rng, DataType.FLOAT32, 7)),
                    new NDList(random(m, rng, DataType.FLOAT32, 3, 4)));
            double[][] d = Tensors.blockDots(List.of(left, right), List.of(right, right));
            for (int k = 0; k < 2; k++) {
                double one = 0; // one read-back per array, added in order
                double plain = 0;
                for (int i = 0; i < left.get(k).size(); i++) {
                    one += Tensors.dot(left.get(k).get(i), right.get(k).get(i));
                    plain += javaDot(left.get(k).get(i), right.get(k).get(i));
                }
                assertThat(d[0][k]).isEqualTo(one);
                assertThat(d[0][k]).isCloseTo(plain, within(1e-5 * (1 + Math.abs(plain))));
                assertThat(Tensors.dot(left.get(k), right.get(k))).isEqualTo(one);
                double squares = 0;
                for (NDArray r : right.get(k)) {
                    squares += javaDot(r, r);
                }
                assertThat(d[1][k]).isCloseTo(squares, within(1e-5 * squares));
            }
        }
    }

    @Test
    void mixedTypesAreReadBackExactly() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(4);
            NDList a = new NDList(random(m, rng, DataType.FLOAT32, 6), random(m, rng, DataType.FLOAT64, 2, 3));
            NDList b = new NDList(random(m, rng, DataType.FLOAT32, 6), random(m, rng, DataType.FLOAT64, 2, 3));
            double[] d = Tensors.dots(a, b);
            assertThat(d[0]).isEqualTo(Tensors.dot(a.get(0), b.get(0)));
            assertThat(d[1]).isEqualTo(Tensors.dot(a.get(1), b.get(1)));
            assertThat(d[1]).isCloseTo(javaDot(a.get(1), b.get(1)), within(1e-12));
        }
    }

    @Test
    void allFiniteFindsOneBadValueAmongManyArraysAndIgnoresOverflowingSums() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rng rng = new Rng(5);
            NDArray x = random(m, rng, DataType.FLOAT32, 4, 4);
            NDArray y = random(m, rng, DataType.FLOAT32, 9);
            NDArray big = m.full(new Shape(8), 3e38f); // finite values whose float32 sum overflows
            assertThat(Tensors.allFinite(List.of(x, y, big))).isTrue();
            NDArray bad = y.duplicate();
            bad.set(new ai.djl.ndarray.index.NDIndex("3"), Float.NaN);
            assertThat(Tensors.allFinite(List.of(x, bad, big))).isFalse();
            NDArray inf = x.duplicate();
            inf.set(new ai.djl.ndarray.index.NDIndex("1, 2"), Float.NEGATIVE_INFINITY);
            assertThat(Tensors.allFinite(List.of(inf, y))).isFalse();
        }
    }
}
