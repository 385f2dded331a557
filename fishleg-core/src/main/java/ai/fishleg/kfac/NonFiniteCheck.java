package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.kfac.LayerGroups.Group;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

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
    record Bad(Group group, String parameter, String quantity) {

        /** @return the layer and parameter, for messages */
        String where() {
            return LayerSelection.displayName(group.name) + " (" + parameter + ")";
        }

        /**
         * @param step the step's index
         * @return the exception of the THROW policy, naming what was bad and where
         */
        NonFiniteException exception(long step) {
            return new NonFiniteException(group.name, parameter, quantity,
                    "non-finite " + quantity + " in " + where() + " at K-FAC step " + step
                            + "; parameters, momenta and factors were left as they were (lower"
                            + " lr, raise damping, set klClip, or use nonFinitePolicy(SKIP) to"
                            + " skip such steps)");
        }
    }

    /** Whether the new factors, inverses and the proposed step are all finite. */
    static boolean allFinite(NDList[] factors, DampedInverse[] inverses,
            ParameterStep.Proposal proposal) {
        List<NDArray> arrays = new ArrayList<>();
        for (int gi = 0; gi < factors.length; gi++) {
            if (factors[gi] != null) {
                arrays.addAll(factors[gi]);
            }
            if (inverses[gi] != null) {
                arrays.addAll(inverses[gi].arrays());
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
            DampedInverse[] inverses, NDList[] naturals,
            ParameterStep.Proposal proposal) {
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            Optional<Bad> bad = firstNonFinite(g, grads[gi], g.paramNames, "gradient");
            if (bad.isEmpty() && factors[gi] != null) {
                bad = firstNonFinite(g, factors[gi], List.of("A", "G"), "curvature statistic");
            }
            if (bad.isEmpty() && inverses[gi] != null) {
                bad = firstNonFinite(g, inverses[gi].arrays(), List.of("A", "G", "eigenvalues"),
                        "damped inverse");
            }
            if (bad.isEmpty()) { // scaled by (1 − β) or ν in place: finite exactly when n is
                bad = firstNonFinite(g, naturals[gi], g.paramNames, "natural gradient");
            }
            if (bad.isEmpty()) {
                bad = firstNonFinite(g, proposal.momenta()[gi], g.paramNames, "momentum");
            }
            if (bad.isEmpty()) {
                bad = firstNonFinite(
                        g, proposal.parameters()[gi], g.paramNames, "updated parameter");
            }
            if (bad.isPresent()) {
                return bad.get();
            }
        }
        // every array is finite, but ⟨m, g⟩ overflowed
        return new Bad(groups.get(0), "clip", "inner product ⟨m, g⟩");
    }

    /** The first non-finite array of a list, as what was bad where; empty if all are finite. */
    private static Optional<Bad> firstNonFinite(
            Group group, NDList arrays, List<String> names, String quantity) {
        for (int i = 0; i < arrays.size(); i++) {
            if (!Tensors.isFinite(arrays.get(i))) {
                return Optional.of(new Bad(group, names.get(i), quantity));
            }
        }
        return Optional.empty();
    }
}
