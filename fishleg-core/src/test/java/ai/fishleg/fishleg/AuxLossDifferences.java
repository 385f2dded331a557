package ai.fishleg.fishleg;

import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.testing.BlockMatrices;
import ai.fishleg.testing.Dense;

/** The auxiliary loss and its central finite differences in λ, for the tests of its gradient. */
final class AuxLossDifferences {

    private AuxLossDifferences() {}

    /** @return the auxiliary loss at the current λ (no update) */
    static double auxLoss(FishLeg opt) {
        return opt.updateAux(AuxMode.EVALUATE, FisherLabels.DRAWN).auxLoss();
    }

    /**
     * @return (f(λ + h·e_i) − f(λ − h·e_i)) / 2h for every entry i of one λ tensor, h = 1e-6; λ is
     *     left as it was
     */
    static double[] finiteDifference(FishLeg opt, CurvatureBlock block, String name) {
        double[] base = Dense.values(block.getAuxParameters().get(name));
        double[] grad = new double[base.length];
        double h = 1e-6;
        for (int i = 0; i < base.length; i++) {
            double[] plus = base.clone();
            plus[i] += h;
            BlockMatrices.setAux(block, name, plus);
            double fPlus = auxLoss(opt);
            double[] minus = base.clone();
            minus[i] -= h;
            BlockMatrices.setAux(block, name, minus);
            double fMinus = auxLoss(opt);
            grad[i] = (fPlus - fMinus) / (2 * h);
        }
        BlockMatrices.setAux(block, name, base);
        return grad;
    }
}
