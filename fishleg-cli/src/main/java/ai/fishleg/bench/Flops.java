package ai.fishleg.bench;

import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.FlopCount;
import java.util.List;
import java.util.function.Function;

/**
 * Floating-point operation counts of FishLeg's work per step, summed over the optimizer's curvature
 * blocks from their own reports ({@link CurvatureBlock#naturalGradientFlops}, {@link
 * CurvatureBlock#auxUpdateFlops}, {@link CurvatureBlock#layerFlops}), so that the count follows
 * whatever form of product each block picks. Only matrix products are counted (a multiply-add
 * counts as two): the elementwise work is a few passes over the parameters and shows up in the
 * measured time, not in the floor. The bench uses the counts as executed.
 */
public final class Flops {

    private Flops() {}

    /**
     * @param blocks the optimizer's blocks
     * @param report one block's count
     * @return the sum over the blocks
     */
    public static FlopCount sum(
            List<CurvatureBlock> blocks, Function<CurvatureBlock, FlopCount> report) {
        FlopCount total = FlopCount.ZERO;
        for (CurvatureBlock b : blocks) {
            total = total.plus(report.apply(b));
        }
        return total;
    }

    /**
     * @param blocks the optimizer's blocks
     * @param rows n, the rows of the gradient's factors (the batch)
     * @return FLOPs of one natural gradient (Qv, or Qg on recorded factors) over all blocks
     */
    public static double qv(List<CurvatureBlock> blocks, long rows) {
        return sum(blocks, b -> b.naturalGradientFlops(rows)).executed();
    }

    /**
     * The matrix products of one auxiliary update besides the model passes: the tape's Qv, the
     * vector-Jacobian product and the recomputation of the cached factors.
     *
     * @param blocks the optimizer's blocks
     * @param rows n, the rows of the gradient's factors (the batch)
     * @return FLOPs
     */
    public static double auxCurvature(List<CurvatureBlock> blocks, long rows) {
        return sum(blocks, b -> b.auxUpdateFlops(rows)).executed();
    }

    /**
     * @param blocks the optimizer's blocks
     * @param n rows of the batch
     * @return FLOPs of one forward and one backward pass of the managed layers
     */
    public static double forwardBackward(List<CurvatureBlock> blocks, long n) {
        double f = 0;
        for (CurvatureBlock b : blocks) {
            f += b.layerFlops(n);
        }
        return f;
    }

    /**
     * @param blocks the optimizer's blocks
     * @param n rows of the auxiliary batch
     * @return FLOPs of the model passes of one auxiliary update: the draw's forward, then the
     *     sampled-label forward and backward
     */
    public static double auxModelPasses(List<CurvatureBlock> blocks, long n) {
        return forwardBackward(blocks, n) * 8.0 / 6.0;
    }
}
