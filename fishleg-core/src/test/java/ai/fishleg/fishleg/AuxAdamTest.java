package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.curvature.Bias;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import ai.fishleg.fishleg.blocks.FishLinear;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import org.junit.jupiter.api.Test;

/**
 * The auxiliary Adam writes λ through the block's state: its first step is λ − lr·g/(|g| + ε)
 * (PyTorch's Adam after bias correction), and the next Qv sees the new λ (checked against Q
 * built densely from λ); with a learning rate of 0, λ and the cached products stay as they are.
 */
class AuxAdamTest {

    @Test
    void aStepWritesLambdaThroughTheStateAndQvSeesIt() {
        try (NDManager m = NDManager.newBaseManager();
                AuxAdam adam = new AuxAdam(0.9, 0.999, 1e-8, m)) {
            FishLinear block = new FishLinear(3, 2, Bias.WITH, m, DataType.FLOAT64,
                    CurvatureOptions.DEFAULT);
            Rng rng = new Rng(3);
            double[] v = rng.gaussians(2 * 3 + 2); // weight (2, 3), then bias (2)
            NDList vl = new NDList(
                    Tensors.create(m, java.util.Arrays.copyOf(v, 6), new Shape(2, 3), DataType.FLOAT64),
                    Tensors.create(m, java.util.Arrays.copyOfRange(v, 6, 8), new Shape(2),
                            DataType.FLOAT64));
            block.qv(vl); // caches M and N from the initial λ

            double[] before = Dense.values(block.getR());
            double[] g = rng.gaussians(before.length);
            adam.step(block.state(), KroneckerBlock.R, array(m, block.getR(), g), 0);
            assertThat(Dense.values(block.getR())).containsExactly(before);
            assertThat(adam.stepCount(block.getR())).isEqualTo(1);

            try (AuxAdam fresh = new AuxAdam(0.9, 0.999, 1e-8, m)) {
                double lr = 0.1;
                fresh.step(block.state(), KroneckerBlock.R, array(m, block.getR(), g), lr);
                double[] after = Dense.values(block.getR());
                for (int i = 0; i < g.length; i++) {
                    double expected = before[i] - lr * g[i] / (Math.abs(g[i]) + 1e-8);
                    assertThat(after[i]).isCloseTo(expected,
                            org.assertj.core.data.Offset.offset(1e-12));
                }
            }
            double[][] dense = denseQ(block);
            double[] qv = Dense.flatten(block.qv(vl));
            assertThat(Dense.relError(qv, Dense.apply(dense, v))).isLessThan(1e-12);
        }
    }

    private static NDArray array(NDManager m, NDArray like, double[] values) {
        return Tensors.create(m, values, like.getShape(), DataType.FLOAT64);
    }

    /** D_A (RᵀR ⊗ LLᵀ) D_A on vec_r([W | b]), reordered to block order (weight, then bias). */
    private static double[][] denseQ(FishLinear block) {
        int o = block.getRows();
        int k = block.getCols();
        int in = block.getInFeatures();
        double[][] r = Dense.matrix(Dense.values(block.getR()), o, o);
        double[][] l = Dense.matrix(Dense.values(block.getL()), k, k);
        double[][] kron = Dense.kron(Dense.mul(Dense.transpose(r), r), Dense.mul(l, Dense.transpose(l)));
        double[] a = Dense.values(block.getA());
        int[] pos = new int[o * k];
        for (int i = 0; i < o; i++) {
            for (int c = 0; c < in; c++) {
                pos[i * in + c] = i * k + c;
            }
            pos[o * in + i] = i * k + in;
        }
        double[][] q = new double[o * k][o * k];
        for (int i = 0; i < q.length; i++) {
            for (int j = 0; j < q.length; j++) {
                q[i][j] = a[pos[i]] * kron[pos[i]][pos[j]] * a[pos[j]];
            }
        }
        return q;
    }
}
