package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One auxiliary update of λ: on a fresh auxiliary batch, with targets sampled from the model (or
 * the batch's own, for the empirical Fisher), the directions u (the stored gradients, or Gaussian
 * draws with {@link USampling#GAUSSIAN}), V = Q(λ)u, the estimator's F̂V ({@link Estimator}), the
 * auxiliary loss ½(γ⟨V,V⟩ + ⟨V,F̂V⟩) − ⟨u,V⟩ (divided by ‖u‖² with {@code normalization}), its
 * analytic λ-gradient (the vector-Jacobian product of λ ↦ Q(λ)u with D = F̂V + γV − u, or with
 * {@code preconditionAux} Q(λ)D·‖u‖/‖V‖), masked by each block, and one step of the auxiliary Adam
 * (or, with {@link AuxUpdate#LIE_GROUP}, one multiplicative {@link LieGroupStep}) with the
 * learning rate of its schedule. An update whose loss or λ-gradient is not finite is
 * skipped (λ keeps its value). The model's parameters, gradients and running statistics are left
 * as they were.
 */
final class AuxiliaryUpdate {

    private static final Logger LOG = LoggerFactory.getLogger(AuxiliaryUpdate.class);

    /**
     * What an update returns.
     *
     * @param info the loss and its terms
     * @param products V = Q(λ)u per block when asked for and λ is as V saw it (evaluation only,
     *     or an auxiliary learning rate of 0), so that the step can reuse V as its natural
     *     gradient; else null
     */
    record Result(AuxInfo info, List<NDList> products) {}

    /**
     * The auxiliary loss on one batch and, if asked, its λ-gradient.
     *
     * @param info the loss and its terms
     * @param gradients by live aux tensor (identity keys), unmasked, attached to the scope; null
     *     if not asked for or if the update must be skipped
     * @param products copies of V = Q(λ)u per block, attached to the scope, when asked for; else
     *     null
     */
    record Evaluation(AuxInfo info, Map<NDArray, NDArray> gradients, List<NDList> products) {}

    private final Hyperparameters hp;
    private final List<BlockState> blocks;
    private final ModelPasses model;
    private final BatchSource auxData;
    private final FisherEstimator estimator;
    private final AuxAdam adam;
    private final LieGroupStep lieGroup;
    private final RunStatistics stats;
    private final Rng rng;
    private final NDManager manager;

    /**
     * @param hp the settings
     * @param blocks the managed blocks
     * @param model the model's passes
     * @param auxData hands out one batch per update
     * @param stats counts updates and skips
     * @param rng draws Gaussian directions
     * @param manager the optimizer's manager (the Adam moments live under it)
     */
    AuxiliaryUpdate(Hyperparameters hp, List<BlockState> blocks, ModelPasses model,
            BatchSource auxData, RunStatistics stats, Rng rng, NDManager manager) {
        this.hp = hp;
        this.blocks = blocks;
        this.model = model;
        this.auxData = auxData;
        this.estimator = hp.estimator().create(hp);
        this.stats = stats;
        this.rng = rng;
        this.manager = manager;
        // The Adam's (zero) moments exist under every rule, so that checkpoints have one format.
        this.adam = new AuxAdam(hp.auxBeta1(), hp.auxBeta2(), hp.auxEps(), manager);
        this.lieGroup = new LieGroupStep(manager);
        for (BlockState g : blocks) {
            for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                if (g.block().isTrainable(e.getKey())) {
                    adam.register(e.getValue());
                }
            }
        }
    }

    /** @return the auxiliary Adam (its moments and step counts are checkpointed) */
    AuxAdam adam() {
        return adam;
    }

    /** @return the learning rate of the next auxiliary step (linear decay when numSteps > 0) */
    double currentLr() {
        if (hp.numSteps() <= 0) {
            return hp.auxLr();
        }
        double left = (double) (hp.numSteps() - stats.auxUpdates()) / hp.numSteps();
        return hp.auxLr() * Math.max(0, left);
    }

    /**
     * One update.
     *
     * @param mode whether to take the Adam step or only evaluate
     * @param labels targets drawn from the model or the batch's own
     * @param keepProducts where to keep V = Q(λ)u for reuse when the update is known beforehand to
     *     leave λ as it is and u is the stored gradient, or null not to keep it
     * @return the loss and, when kept, V
     */
    Result update(AuxMode mode, FisherLabels labels, NDManager keepProducts) {
        boolean train = mode == AuxMode.LEARN;
        boolean keep = keepProducts != null && hp.uSampling() == USampling.GRADIENT
                && (!train || currentLr() == 0);
        try (Scope scope = Scope.open(manager)) {
            Evaluation eval = evaluate(scope, labels, train, keep);
            stats.setLastAuxInfo(eval.info());
            String bad = nonFinite(eval);
            if (bad != null) {
                LOG.warn("auxiliary update skipped: non-finite {}; λ keeps its last value"
                        + " (skipped so far: {})", bad, stats.auxSkipped());
                return new Result(eval.info(), null);
            }
            double lr = currentLr();
            boolean steps = train && eval.gradients() != null;
            if (steps) {
                step(eval.gradients(), lr);
                stats.auxUpdated(eval.info().auxLoss());
            }
            List<NDList> kept = null;
            if (eval.products() != null && (!steps || lr == 0)) { // λ is as V saw it
                kept = new ArrayList<>();
                for (NDList v : eval.products()) {
                    kept.add(Scope.keep(v, keepProducts));
                }
            }
            return new Result(eval.info(), kept);
        }
    }

    /**
     * One auxiliary step on every trainable λ tensor, with its block's gradient mask applied:
     * Adam's, or the multiplicative one of {@link AuxUpdate#LIE_GROUP}; written through the
     * block's state (which drops the block's cached products).
     */
    private void step(Map<NDArray, NDArray> gradients, double lr) {
        for (BlockState g : blocks) {
            CurvatureBlock block = g.block();
            for (Map.Entry<String, NDArray> e : block.getAuxParameters().entrySet()) {
                NDArray grad = gradients.get(e.getValue());
                if (grad == null) {
                    continue; // frozen: the step leaves it (and Adam's state) alone
                }
                String name = e.getKey();
                // the λ-gradients are this update's own temporaries: masked in place
                NDArray masked = block.maskGradient(name, grad);
                if (hp.auxUpdate() == AuxUpdate.LIE_GROUP) {
                    lieGroup.step(block.state(), name, block.factorForm(name), masked, lr);
                } else {
                    adam.step(block.state(), name, masked,
                            hp.auxStepScale().rate(lr, e.getValue()));
                }
            }
        }
    }

    /** @return what is not finite in an evaluation, or null */
    private String nonFinite(Evaluation eval) {
        if (!Double.isFinite(eval.info().auxLoss())) {
            return "auxiliary loss (" + eval.info().auxLoss() + ")";
        }
        if (eval.gradients() != null
                && !Tensors.allFinite(new ArrayList<>(eval.gradients().values()))) {
            for (BlockState g : blocks) {
                for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                    NDArray grad = eval.gradients().get(e.getValue());
                    if (grad != null && !Tensors.isFinite(grad)) {
                        return "λ-gradient of " + g.displayName() + "." + e.getKey();
                    }
                }
            }
        }
        return null;
    }

    /**
     * The auxiliary loss on one fresh auxiliary batch and, if asked, its gradient with respect to
     * every trainable aux tensor (unmasked; with {@code preconditionAux} the preconditioned
     * direction instead). Changes nothing but the data source's, the likelihood's and (with
     * Gaussian u) the optimizer's random state.
     *
     * @param scope owns the results
     * @param labels targets drawn from the model or the batch's own
     * @param withGradient also compute the λ-gradient
     * @param keepProducts also return copies of V = Q(λ)u
     * @return the evaluation
     */
    Evaluation evaluate(
            Scope scope, FisherLabels labels, boolean withGradient, boolean keepProducts) {
        try (ModelPasses.Isolation isolated = model.isolate(scope, false)) {
            LabeledBatch batch = auxData.nextNonEmpty(scope.manager(), "auxiliary");
            LabeledBatch samples = model.samples(batch, labels);
            List<NDList> us = directions(scope);
            NDList all = new NDList();
            us.forEach(all::addAll);
            double g2 = Tensors.sum(Tensors.dots(all, all)); // ‖u‖², one read-back
            List<CurvatureBlock.Tape> tapes = new ArrayList<>();
            try {
                return evaluate(scope, samples, us, g2, tapes, withGradient, keepProducts);
            } finally {
                for (CurvatureBlock.Tape t : tapes) {
                    t.close();
                }
            }
        }
    }

    private Evaluation evaluate(Scope scope, LabeledBatch samples, List<NDList> us, double g2,
            List<CurvatureBlock.Tape> tapes, boolean withGradient, boolean keepProducts) {
        List<NDList> vs = new ArrayList<>();
        boolean gradientU = hp.uSampling() == USampling.GRADIENT;
        for (int gi = 0; gi < blocks.size(); gi++) {
            CurvatureBlock.Tape tape =
                    BatchSpeedup.auxTape(blocks.get(gi), us.get(gi), gradientU, scope);
            tapes.add(tape);
            vs.add(tape.v());
        }
        double[][] dots = Tensors.blockDots(List.of(us, vs), List.of(vs, vs)); // one read-back
        double lin = Tensors.sum(dots[0]);
        double vv = Tensors.sum(dots[1]);
        List<NDList> products = keepProducts ? copies(vs, scope) : null;
        FisherEstimator.FisherEstimate fv = estimator.estimate(
                new FisherEstimator.Pass(scope, samples, model, blocks), us, vs);
        double gamma = hp.damping();
        double reg = gamma * vv;
        double quad2 = fv.vFv();
        double aux = 0.5 * (reg + quad2) - lin;
        double check = fv.uFv() + gamma * lin - g2;
        double norm = 1;
        if (hp.normalization()) {
            if (g2 == 0) {
                LOG.warn("auxiliary update skipped: the stored gradient u is zero, so the"
                        + " normalised auxiliary loss is undefined");
                return new Evaluation(new AuxInfo(0, 0, lin, quad2, reg, g2), null, products);
            }
            norm = g2;
            aux /= g2;
            check /= g2;
        }
        AuxInfo info = new AuxInfo(aux, check, lin, quad2, reg, g2);
        if (!withGradient) {
            return new Evaluation(info, null, products);
        }
        // Preconditioning rescales Q(λ)D by ‖u‖/‖V‖ so its size matches D's.
        double preconditionScale = vv > 0 ? Math.sqrt(g2 / vv) : 1;
        Map<NDArray, NDArray> gradients = new IdentityHashMap<>();
        for (int gi = 0; gi < blocks.size(); gi++) {
            CurvatureBlock block = blocks.get(gi).block();
            NDList v = vs.get(gi);
            NDList d = new NDList();
            for (int i = 0; i < v.size(); i++) {
                // ∂aux/∂V = γV + F̂V − u  (÷ ‖u‖² with normalization)
                NDArray di = v.get(i).mul(gamma) // one new array, the rest in place
                        .addi(fv.product().get(gi).get(i))
                        .subi(us.get(gi).get(i));
                d.add(norm == 1 ? di : di.divi(norm));
            }
            if (hp.preconditionAux()) {
                d = block.qv(d);
                for (NDArray x : d) {
                    x.muli(preconditionScale);
                }
            }
            for (Map.Entry<String, NDArray> e : tapes.get(gi).vjp(d).entrySet()) {
                gradients.put(block.getAuxParameters().get(e.getKey()), scope.own(e.getValue()));
            }
        }
        return new Evaluation(info, gradients, products);
    }

    private static List<NDList> copies(List<NDList> vs, Scope scope) {
        List<NDList> out = new ArrayList<>(vs.size());
        for (NDList v : vs) {
            NDList c = new NDList(v.size());
            for (NDArray x : v) {
                c.add(scope.own(x.duplicate()));
            }
            out.add(c);
        }
        return out;
    }

    /**
     * The directions u of one update: the stored gradients, or fresh N(0, I) draws from the
     * optimizer's generator with {@link USampling#GAUSSIAN}.
     */
    private List<NDList> directions(Scope scope) {
        List<NDList> us = new ArrayList<>(blocks.size());
        for (BlockState g : blocks) {
            if (hp.uSampling() == USampling.GRADIENT) {
                us.add(scope.use(g.u()));
                continue;
            }
            NDList u = new NDList(g.u().size());
            for (NDArray like : g.u()) {
                double[] z = rng.gaussians(Math.toIntExact(like.size()));
                u.add(Tensors.create(scope.manager(), z, like.getShape(), like.getDataType()));
            }
            us.add(u);
        }
        return us;
    }
}
