package ai.fishleg.bench;

import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.layers.FishLinear;
import ai.fishleg.layers.KroneckerBlock;
import ai.fishleg.layers.RecordingLinear;
import java.util.List;

/**
 * Floating-point operation counts of FishLeg's work, from the shapes of the curvature blocks (a
 * multiply-add counts as two). Only matrix products are counted: they are the arithmetic; the
 * elementwise work (A ⊙ X, momentum, parameter update) is a few passes over the parameters and
 * shows up in the measured time, not in the floor.
 *
 * <p>For a Kronecker block with U of size o x k (out x (fan-in + bias)):
 *
 * <ul>
 *   <li>Qv = A ⊙ (M (A ⊙ U) N): 2o²k + 2ok² (M X costs ok for a diagonal M);
 *   <li>auxiliary vector-Jacobian product: P = (D ⊙ A) N (2ok²), ∂M = P Xᵀ (2o²k), ∂N = (M
 *       X)ᵀ (D ⊙ A) with M X kept from the tape's forward pass (2ok²), the A-gradient M P (2o²k,
 *       only when A is learned), and the factor gradients R(∂M + ∂Mᵀ) (2o³) and (∂N + ∂Nᵀ)L
 *       (2k³), five eighths of that for FishLinear's triangular factors from {@link
 *       KroneckerBlock#TRIANGULAR_SPLIT_FROM} on (only
 *       the upper triangle the gradient mask keeps is computed, from five half-size products);
 *   <li>recomputing the cached factors M = RᵀR and N = LLᵀ after λ changed: 2o³ + 2k³, half that
 *       for FishLinear, whose triangular R and L let each be assembled from half-size products.
 * </ul>
 *
 * With batchSpeedup, a {@link RecordingLinear} layer whose factored products pay off ({@link
 * FishLinear#factorsPayOff}) works on the gradient's factors instead (n rows): Qg = (M G)(Â N) costs
 * 2o²n + 2nk² + 2onk, and the auxiliary update's tape the same, its vector-Jacobian product 2okn
 * + 2nok plus, for R, 8o²n or 2o²n + (the factor gradient, as above), whichever form FishLinear
 * picks (the first when 8o²n < 2o²n + 2o³), and the same for L with n x k.
 *
 * <p>Other blocks (diagonal ones) only do elementwise work and count zero.
 */
public final class Flops {

    private Flops() {}

    /**
     * @param blocks the optimizer's blocks
     * @param rows n, the rows of the gradient's factors (the batch)
     * @return FLOPs of one natural gradient (Qv or Qg) over all blocks
     */
    public static double qv(List<CurvatureBlock> blocks, long rows) {
        double f = 0;
        for (CurvatureBlock b : blocks) {
            if (factored(b, rows)) {
                f += qg((FishLinear) b, rows);
            } else if (b instanceof KroneckerBlock k) {
                f += qv(k);
            }
        }
        return f;
    }

    /** FLOPs of FᵀF for an n x n factor, split when it is triangular and large (KroneckerBlock). */
    private static double gram(double n, boolean triangular) {
        return triangular && n >= KroneckerBlock.TRIANGULAR_SPLIT_FROM ? n * n * n : 2 * n * n * n;
    }

    /**
     * FLOPs of a factor gradient F S (F and S n x n): the upper triangle only, from five
     * half-size products, when F is triangular and large (KroneckerBlock.upperOfProduct).
     */
    private static double factorGradient(double n, boolean triangular) {
        return triangular && n >= KroneckerBlock.TRIANGULAR_SPLIT_FROM
                ? 1.25 * n * n * n : 2 * n * n * n;
    }

    /** FLOPs of a factored factor gradient, in the form FishLinear.factoredTape picks. */
    private static double factoredFactorGradient(double side, double n, boolean triangular) {
        return FishLinear.lowRankFactorGradient(side, n) ? 8 * side * side * n
                : 2 * side * side * n + factorGradient(side, triangular);
    }

    private static boolean factored(CurvatureBlock b, long rows) {
        return b instanceof FishLinear fl && fl.canRecord() && fl.factorsPayOff(rows);
    }

    private static double qg(FishLinear b, double n) {
        double o = b.getRows();
        double k = b.getCols();
        return 2 * o * o * n + 2 * n * k * k + 2 * o * n * k;
    }

    private static double qv(KroneckerBlock k) {
        double o = k.getRows();
        double c = k.getCols();
        double out = k.isOutFactorDiagonal() ? o * c : 2 * o * o * c;
        return out + 2 * o * c * c;
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
        double f = 0;
        for (CurvatureBlock b : blocks) {
            if (!(b instanceof KroneckerBlock k)) {
                continue;
            }
            double o = k.getRows();
            double c = k.getCols();
            // FishLinear's masks keep R and L triangular: their Gram matrices cost half.
            boolean triangular = b instanceof FishLinear;
            double factors = (k.isOutFactorDiagonal() ? o : gram(o, triangular)) + gram(c, triangular);
            if (factored(b, rows)) {
                double n = rows;
                double gr = factoredFactorGradient(o, n, triangular);
                double gl = factoredFactorGradient(c, n, triangular);
                f += qg((FishLinear) b, n) + 4 * o * c * n + gr + gl + factors;
                continue;
            }
            boolean diag = k.isOutFactorDiagonal();
            double outProduct = diag ? o * c : 2 * o * o * c; // M times an o x c matrix
            double p = 2 * o * c * c; // P = (D ⊙ A) N
            double dm = diag ? 2 * o * c : 2 * o * o * c; // P Xᵀ (its diagonal when M is)
            double dn = 2 * o * c * c; // (M X)ᵀ (D ⊙ A)
            double ga = k.isTrainable(KroneckerBlock.A) ? outProduct : 0; // M P
            double gr = diag ? 2 * o : factorGradient(o, triangular);
            double gl = factorGradient(c, triangular);
            f += qv(k) + p + dm + dn + ga + gr + gl + factors;
        }
        return f;
    }

    /**
     * Forward and backward passes of the layers behind Kronecker blocks on a batch of n rows: 2nok
     * forward, 4nok backward (input and weight gradients). Exact for linear layers; a lower bound
     * for convolutions (whose products repeat over positions).
     *
     * @param blocks the optimizer's blocks
     * @param n rows of the batch
     * @return FLOPs of one forward and one backward pass
     */
    public static double forwardBackward(List<CurvatureBlock> blocks, long n) {
        double f = 0;
        for (CurvatureBlock b : blocks) {
            if (b instanceof KroneckerBlock k) {
                f += 6.0 * n * k.getRows() * k.getCols();
            }
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
