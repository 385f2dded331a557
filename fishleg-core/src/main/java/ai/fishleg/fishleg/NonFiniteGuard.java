package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.fishleg.core.NonFiniteException;
import ai.fishleg.core.NonFinitePolicy;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The non-finite policy of a step: a step writes nothing that is not finite. When a value of the
 * step is not finite, the guard names the first bad quantity (layer, parameter, what) and either
 * throws a {@link NonFiniteException} ({@link NonFinitePolicy#THROW}) or counts the step as
 * skipped ({@link NonFinitePolicy#SKIP}).
 */
final class NonFiniteGuard {

    private static final Logger LOG = LoggerFactory.getLogger(NonFiniteGuard.class);

    private final NonFinitePolicy policy;
    private final List<BlockState> blocks;
    private final RunStatistics stats;

    /**
     * @param policy what to do on a non-finite value
     * @param blocks the managed blocks, whose names the messages give
     * @param stats counts skipped steps
     */
    NonFiniteGuard(NonFinitePolicy policy, List<BlockState> blocks, RunStatistics stats) {
        this.policy = policy;
        this.blocks = blocks;
        this.stats = stats;
    }

    /**
     * Whether every element of every array is finite, with one reduction per array and a single
     * read-back ({@link Tensors#allFinite}).
     *
     * @param values per-block lists
     * @return true if all are finite
     */
    static boolean allFinite(NDList[] values) {
        List<NDArray> arrays = new ArrayList<>();
        for (NDList list : values) {
            arrays.addAll(list);
        }
        return Tensors.allFinite(arrays);
    }

    /**
     * Checks the values of a step whose proposal was found not finite, in the order they arise,
     * and applies the policy to the first bad one.
     *
     * @param gradients the gradients, or null when already checked
     * @param naturals the natural gradients (as the proposal left them)
     * @param proposal the proposed step
     * @return true if the step must be skipped
     * @throws NonFiniteException under THROW
     */
    boolean rejectsStep(NDList[] gradients, NDList[] naturals, ParameterStep.Proposal proposal) {
        return (gradients != null && rejects(gradients, "gradient"))
                || rejects(naturals, "natural gradient")
                || rejects(proposal.momenta(), "momentum")
                || rejects(proposal.parameters(), "updated parameter");
    }

    /**
     * Applies the policy to per-block values.
     *
     * @param values one list per block
     * @param quantity what they are, for the message
     * @return false if all are finite; true if the step must be skipped (counted)
     * @throws NonFiniteException under THROW
     */
    boolean rejects(NDList[] values, String quantity) {
        for (int gi = 0; gi < values.length; gi++) {
            for (int i = 0; i < values[gi].size(); i++) {
                if (!Tensors.isFinite(values[gi].get(i))) {
                    CurvatureBlock b = blocks.get(gi).block();
                    String where = blocks.get(gi).displayName() + " (" + b.getOrder().get(i) + ")";
                    if (policy == NonFinitePolicy.SKIP) {
                        LOG.warn("step {} skipped: non-finite {} in layer {} (skipped so far: {})",
                                stats.steps(), quantity, where, stats.stepSkipped());
                        return true;
                    }
                    throw new NonFiniteException(b.getName(), b.getOrder().get(i), quantity,
                            "non-finite " + quantity + " in layer " + where + " at step "
                                    + stats.steps() + "; parameters and momentum were left as"
                                    + " they were (lower fishLr, set klClip, or use"
                                    + " nonFinitePolicy(SKIP) to skip such steps)");
                }
            }
        }
        return false;
    }
}
