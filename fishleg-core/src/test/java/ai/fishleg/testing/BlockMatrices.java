package ai.fishleg.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.util.Tensors;
import java.util.Arrays;

/** A curvature block's vectors and its Q as plain double arrays, for dense reference checks. */
public final class BlockMatrices {

    private BlockMatrices() {}

    /**
     * Splits a flat vector (parameters concatenated in block order, each row-major) into arrays
     * shaped like the block's parameters.
     *
     * @param m owner of the arrays
     * @param block the block
     * @param flat the values
     * @return one array per parameter
     */
    public static NDList unflatten(NDManager m, CurvatureBlock block, double[] flat) {
        NDList out = new NDList();
        int o = 0;
        for (NDArray p : block.getParameterArrays()) {
            int size = Math.toIntExact(p.size());
            double[] part = Arrays.copyOfRange(flat, o, o + size);
            out.add(Tensors.create(m, part, p.getShape(), p.getDataType()));
            o += size;
        }
        return out;
    }

    /**
     * The matrix of v ↦ Q(λ)v on the flattened parameters, column by column from unit vectors.
     *
     * @param m manager for temporaries
     * @param block the block
     * @return Q as a dense matrix
     */
    public static double[][] operator(NDManager m, CurvatureBlock block) {
        int n = Math.toIntExact(block.parameterSize());
        double[][] q = new double[n][n];
        for (int j = 0; j < n; j++) {
            double[] e = new double[n];
            e[j] = 1;
            try (NDManager s = m.newSubManager()) {
                double[] col = Dense.flatten(block.qv(unflatten(s, block, e)));
                for (int i = 0; i < n; i++) {
                    q[i][j] = col[i];
                }
            }
        }
        return q;
    }

    /**
     * Sets one tensor of a block's λ, through the block's state (which drops its cached products).
     *
     * @param block the block
     * @param name the tensor's name in {@link CurvatureBlock#getAuxParameters()}
     * @param values the new values, row-major
     */
    public static void setAux(CurvatureBlock block, String name, double[] values) {
        NDArray aux = block.getAuxParameters().get(name);
        try (NDArray v = Tensors.create(aux.getManager(), values, aux.getShape(), aux.getDataType())) {
            block.state().assign(name, v);
        }
    }
}
