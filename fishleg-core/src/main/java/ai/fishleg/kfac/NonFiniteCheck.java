package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.kfac.LayerGroups.Group;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds what is not finite in a K-FAC step before anything is written: one read-back when all is
 * well, and the layer, parameter and quantity to name when not.
 */
final class NonFiniteCheck {

    private NonFiniteCheck() {}

    /**
     * The first non-finite quantity of a step.
     *
     * @param group its group
     * @param parameter the parameter (or factor A/G) it belongs to
     * @param quantity what it is ("gradient", "damped inverse", ...)
     */
    record Bad(Group group, String parameter, String quantity) {}

    /** Whether the new factors, inverses and the proposed step are all finite. */
    static boolean allFinite(NDList[] factors, Inverses[] inverses,
            ParameterStep.Proposal proposal) {
        List<NDArray> arrays = new ArrayList<>();
        for (int gi = 0; gi < factors.length; gi++) {
            if (factors[gi] != null) {
                arrays.addAll(factors[gi]);
            }
            if (inverses[gi] != null) {
                arrays.add(inverses[gi].input());
                arrays.add(inverses[gi].output());
            }
        }
        return Tensors.allFinite(arrays) && proposal.isFinite();
    }

    /**
     * @return the first non-finite quantity, in the order the step computes them: gradient,
     *     curvature statistic, damped inverse, natural gradient, momentum, updated parameter (or,
     *     when all are finite, the klClip inner product, which overflowed)
     */
    static Bad firstBad(List<Group> groups, NDList[] grads, NDList[] factors,
            Inverses[] inverses, NDList[] naturals,
            ParameterStep.Proposal proposal) {
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            String bad = firstNonFinite(grads[gi], g.paramNames, "gradient");
            if (bad == null && factors[gi] != null) {
                bad = firstNonFinite(factors[gi], List.of("A", "G"), "curvature statistic");
            }
            if (bad == null && inverses[gi] != null) {
                bad = firstNonFinite(new NDList(inverses[gi].input(), inverses[gi].output()),
                        List.of("A", "G"), "damped inverse");
            }
            if (bad == null) { // scaled by (1 − β) or ν in place: finite exactly when n is
                bad = firstNonFinite(naturals[gi], g.paramNames, "natural gradient");
            }
            if (bad == null) {
                bad = firstNonFinite(proposal.momenta()[gi], g.paramNames, "momentum");
            }
            if (bad == null) {
                bad = firstNonFinite(proposal.parameters()[gi], g.paramNames, "updated parameter");
            }
            if (bad != null) {
                return new Bad(g, bad.substring(0, bad.indexOf('\u0000')),
                        bad.substring(bad.indexOf('\u0000') + 1));
            }
        }
        // every array is finite, but ⟨m, g⟩ overflowed
        return new Bad(groups.get(0), "clip", "inner product ⟨m, g⟩");
    }

    /** @return "name\0quantity" of the first non-finite array, or null */
    private static String firstNonFinite(NDList arrays, List<String> names, String quantity) {
        for (int i = 0; i < arrays.size(); i++) {
            if (!Tensors.isFinite(arrays.get(i))) {
                return names.get(i) + "\u0000" + quantity;
            }
        }
        return null;
    }
}
