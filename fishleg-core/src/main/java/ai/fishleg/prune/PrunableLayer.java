package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.kfac.KroneckerFactoredBlock;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * One layer a {@link Pruner} prunes: its live weight (out, ...) and optional bias (out), seen as the
 * matrix U = [W | b] (out x k) on which a Kronecker-factored inverse Fisher acts: the weight read
 * row-major as an out x fan matrix, the bias as the last column (docs/ALGORITHM.md §5.1; K-FAC uses
 * the same layout). Only the weight's entries are pruned; the bias only moves by the compensation.
 *
 * @param name the layer's dotted name
 * @param parameters the live weight, then the bias if the layer has one
 */
public record PrunableLayer(String name, List<NDArray> parameters) {

    /**
     * @throws IllegalArgumentException if there is no weight, more than a weight and a bias, or
     *     the bias does not have one entry per output unit
     */
    public PrunableLayer {
        parameters = List.copyOf(parameters);
        if (parameters.isEmpty() || parameters.size() > 2) {
            throw new IllegalArgumentException("layer " + name + ": a prunable layer has a weight and"
                    + " an optional bias, got " + parameters.size() + " parameters");
        }
        Shape w = parameters.get(0).getShape();
        if (w.dimension() < 2) {
            throw new IllegalArgumentException("layer " + name + ": the weight must have at least 2"
                    + " dimensions (out, ...), got shape " + w);
        }
        if (parameters.size() == 2 && parameters.get(1).size() != w.get(0)) {
            throw new IllegalArgumentException("layer " + name + ": the bias has "
                    + parameters.get(1).size() + " entries, the weight " + w.get(0) + " rows");
        }
    }

    /**
     * The layers whose block of Q is Kronecker-factored, in the optimizer's order (other blocks
     * are left as they are).
     *
     * @param fishLeg the optimizer
     * @return its prunable layers
     */
    public static List<PrunableLayer> of(FishLeg fishLeg) {
        List<PrunableLayer> out = new ArrayList<>();
        for (CurvatureBlock block : fishLeg.getBlocks()) {
            if (block instanceof KroneckerBlock) {
                out.add(new PrunableLayer(block.getName(), block.getParameterArrays()));
            }
        }
        return out;
    }

    /**
     * @param block a K-FAC block
     * @return its layer
     */
    public static PrunableLayer of(KroneckerFactoredBlock block) {
        return new PrunableLayer(block.getName(), block.getParameterArrays());
    }

    /** @return the live weight */
    public NDArray weight() {
        return parameters.get(0);
    }

    /** @return whether the layer has a bias (the last column of U) */
    public boolean hasBias() {
        return parameters.size() == 2;
    }

    /** @return rows of U: output units */
    public int rows() {
        return Math.toIntExact(weight().getShape().get(0));
    }

    /** @return weight columns of U: the fan-in */
    public int fan() {
        return Math.toIntExact(weight().size() / rows());
    }

    /** @return columns of U: the fan-in, plus one with a bias */
    public int cols() {
        return fan() + (hasBias() ? 1 : 0);
    }

    /** @return the number of prunable entries (the weight's) */
    public long weights() {
        return weight().size();
    }

    /**
     * @param manager where to create it
     * @return U in float64 (a copy)
     */
    NDArray matrix(NDManager manager) {
        NDArray w = weight().toType(DataType.FLOAT64, true).reshape(rows(), fan());
        w.attach(manager);
        if (!hasBias()) {
            return w;
        }
        NDArray b = parameters.get(1).toType(DataType.FLOAT64, true).reshape(rows(), 1);
        b.attach(manager);
        return NDArrays.concat(new NDList(w, b), 1);
    }

    /**
     * Writes U back into the live parameters (in their element type).
     *
     * @param u out x k
     */
    void assign(NDArray u) {
        NDArray w = weight();
        NDArray wu = hasBias() ? u.get(":, :" + fan()) : u;
        Tensors.assign(w, wu.reshape(w.getShape()).toType(w.getDataType(), false));
        if (hasBias()) {
            NDArray b = parameters.get(1);
            Tensors.assign(b, u.get(":, " + fan()).reshape(b.getShape()).toType(b.getDataType(), false));
        }
    }
}
