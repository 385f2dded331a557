package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * K-FAC's damped inverse factors of every layer, estimated once: what FishLeg's Kronecker start
 * sets Q(λ) to (docs/ALGORITHM.md §18). The statistics are those of {@link Kfac} (same layers,
 * names and estimates, {@link KroneckerFactoredBlock}), averaged with equal weight over the given
 * number of batches (update k takes weight 1/(k+1)), all at the current parameters; the damping
 * is K-FAC's factored Tikhonov damping. Optionally the labels are the batches' own and the factors
 * are blended with the identity, as K-FAC's {@link FisherLabels} and {@link FactorInit#IDENTITY}
 * would have them. Nothing of the model changes but the random state of
 * {@code draw} and {@code data}; its gradients are left as they were.
 */
public final class KroneckerEstimate {

    private KroneckerEstimate() {}


    /**
     * K-FAC's damped inverses from statistics with labels drawn from the model (the Fisher's
     * factors) and no identity share: {@link #dampedInverses(Block, DrawFunction, NllFunction,
     * BatchSource, int, double, List, List, FisherLabels, double, NDManager)} with {@link
     * FisherLabels#DRAWN} and share 0.
     *
     * @param model the network, initialised (its RecordingLinear / RecordingConv2d layers get an
     *     estimate)
     * @param draw samples targets from the model's predictive distribution
     * @param nll the negative log-likelihood, a mean over the batch
     * @param data one batch per statistics pass
     * @param batches number of passes, >= 1
     * @param damping γ > 0
     * @param moduleNames layers to consider (empty: all)
     * @param skipNames layers to leave out
     * @param target manager of the results
     * @return the inverses by layer name, in model order
     * @throws IllegalArgumentException if no layer can be estimated or a setting is out of range
     * @throws IllegalStateException if a statistic is not finite
     */
    public static Map<String, Inverses> dampedInverses(
            Block model,
            DrawFunction draw,
            NllFunction nll,
            BatchSource data,
            int batches,
            double damping,
            List<String> moduleNames,
            List<String> skipNames,
            NDManager target) {
        return dampedInverses(model, draw, nll, data, batches, damping, moduleNames, skipNames,
                FisherLabels.DRAWN, 0, target);
    }

    /**
     * K-FAC's damped inverses of the factors s·I + (1 − s)·A and s·I + (1 − s)·G, with A and G
     * the equal-weight averages over the batches: with s > 0 what K-FAC's inverses would be if
     * its running averages had started at the identity ({@link FactorInit#IDENTITY}) and the
     * identity's share had come down to s; with s = 0 the estimates themselves.
     *
     * @param model the network, initialised (its RecordingLinear / RecordingConv2d layers get an
     *     estimate)
     * @param draw samples targets from the model's predictive distribution (not used with {@link
     *     FisherLabels#OBSERVED})
     * @param nll the negative log-likelihood, a mean over the batch
     * @param data one batch per statistics pass
     * @param batches number of passes, >= 1
     * @param damping γ > 0
     * @param moduleNames layers to consider (empty: all)
     * @param skipNames layers to leave out
     * @param labels the labels of the statistics passes: drawn from the model (the Fisher) or the
     *     batches' own (the empirical Fisher)
     * @param identityShare s in [0, 1): the identity's share of both factors
     * @param target manager of the results
     * @return the inverses by layer name, in model order
     * @throws IllegalArgumentException if no layer can be estimated or a setting is out of range
     * @throws IllegalStateException if a statistic is not finite
     */
    public static Map<String, Inverses> dampedInverses(
            Block model,
            DrawFunction draw,
            NllFunction nll,
            BatchSource data,
            int batches,
            double damping,
            List<String> moduleNames,
            List<String> skipNames,
            FisherLabels labels,
            double identityShare,
            NDManager target) {
        if (labels == null) {
            throw new IllegalArgumentException("the labels must be DRAWN or OBSERVED, got null");
        }
        if (!(identityShare >= 0 && identityShare < 1)) {
            throw new IllegalArgumentException(
                    "the identity's share must be in [0, 1), got " + identityShare);
        }
        if (batches < 1) {
            throw new IllegalArgumentException("the estimate needs batches >= 1, got " + batches);
        }
        if (!(damping > 0) || Double.isInfinite(damping)) {
            throw new IllegalArgumentException(
                    "the damped inverses need a finite damping > 0, got " + damping);
        }
        try (NDManager manager = target.newSubManager()) {
            LayerGroups groups = new LayerGroups(model, moduleNames, skipNames, manager, false);
            groups.startRecording();
            try {
                RecordedPasses passes = new RecordedPasses(model, draw, nll, data, groups);
                for (int k = 0; k < batches; k++) {
                    update(passes, groups, k / (k + 1.0), labels, manager);
                }
                Map<String, Inverses> out = new LinkedHashMap<>();
                for (KroneckerFactoredBlock block : groups.blocks()) {
                    try (Scope scope = Scope.open(manager)) {
                        NDList factors = withIdentity(new NDList(scope.use(block.getInputFactor()),
                                scope.use(block.getOutputFactor())), identityShare, scope);
                        Inverses inv = DampedInverse.factored(factors, damping, scope);
                        out.put(block.getName(), new Inverses(Scope.keep(inv.input(), target),
                                Scope.keep(inv.output(), target), inv.pi()));
                    }
                }
                return out;
            } finally {
                groups.stopRecording();
            }
        }
    }

    /** @return s·I + (1 − s)·F for each factor F, or the factors themselves when s = 0 */
    private static NDList withIdentity(NDList factors, double share, Scope scope) {
        if (share == 0) {
            return factors;
        }
        NDList out = new NDList();
        for (NDArray f : factors) {
            int n = (int) f.getShape().get(0);
            out.add(Tensors.mulConst(scope.manager().eye(n, n, 0, f.getDataType()), share)
                    .addi(Tensors.mulConst(f, 1 - share)));
        }
        return out;
    }

    private static void update(RecordedPasses passes, LayerGroups groups, double decay,
            FisherLabels labels, NDManager manager) {
        try (Scope scope = Scope.open(manager)) {
            NDList[] factors = new NDList[groups.list.size()];
            passes.curvatureStatistics(factors, decay, FactorInit.FIRST_ESTIMATE, 1, labels,
                    scope);
            for (int gi = 0; gi < factors.length; gi++) {
                if (factors[gi] == null) {
                    continue;
                }
                if (!Tensors.allFinite(factors[gi])) {
                    throw new IllegalStateException("non-finite curvature statistics in layer "
                            + groups.list.get(gi).name + "; lower the learning rate or check the"
                            + " data");
                }
                groups.list.get(gi).block.commit(factors[gi], null);
            }
        }
    }
}
