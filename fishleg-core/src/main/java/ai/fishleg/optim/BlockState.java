package ai.fishleg.optim;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.layers.FishLinear;

/**
 * FishLeg's state for one curvature block (the reference's parameter group): the block, which
 * owns λ, and the stored gradient u that Q(λ) is trained to invert along, with its factors when
 * batchSpeedup recorded them. (Momentum and θ0 live in {@link ParameterStep}.)
 */
final class BlockState {

    private final CurvatureBlock block;
    /** The stored gradient u ("grad" in the reference), shaped like the parameters. */
    private final NDList u = new NDList();
    /** The factors of u (batchSpeedup with a recording layer), or null. */
    private FishLinear.GradientFactors uFactors;

    /**
     * @param block the curvature block
     * @param manager owner of u
     */
    BlockState(CurvatureBlock block, NDManager manager) {
        this.block = block;
        for (NDArray p : block.getParameterArrays()) {
            NDArray zero = p.zerosLike();
            zero.attach(manager);
            u.add(zero);
        }
    }

    /** @return the curvature block */
    CurvatureBlock block() {
        return block;
    }

    /** @return the stored gradient u (live) */
    NDList u() {
        return u;
    }

    /** @return the factors of u, or null */
    FishLinear.GradientFactors uFactors() {
        return uFactors;
    }

    /**
     * u ← a gradient, with its factors when known.
     *
     * @param gradient one array per parameter
     * @param factors its factors, or null; moved to {@code manager}
     * @param manager the optimizer's manager
     */
    void store(NDList gradient, FishLinear.GradientFactors factors, NDManager manager) {
        for (int i = 0; i < u.size(); i++) {
            ai.fishleg.util.Tensors.assign(u.get(i), gradient.get(i));
        }
        forgetFactors();
        if (factors != null) {
            uFactors = factors;
            uFactors.attach(manager);
        }
    }

    /** Drops the factors of u (u was or will be written some other way). */
    void forgetFactors() {
        if (uFactors != null) {
            uFactors.close();
            uFactors = null;
        }
    }

    /** @return the name under which the block's state is saved ({@code <root>} for the root) */
    String key() {
        return block.getName().isEmpty() ? "<root>" : block.getName();
    }
}
