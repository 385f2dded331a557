package ai.fishleg.fishleg;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import ai.fishleg.util.Scope;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The parts of one {@link FishLeg} optimizer, built from its builder in dependency order: the
 * blocks of the managed layers, the parameter step with a group per block, batchSpeedup's
 * {@link BatchSpeedup}, the model's passes, the auxiliary update, the non-finite guard, the
 * warm-up (run here) and pre-training, and the state that checkpoints save; and how a step drives
 * them ({@link #step()}).
 */
final class FishLegParts {

    private static final Logger LOG = LoggerFactory.getLogger(FishLeg.class);

    final Block model;
    final Hyperparameters hp;
    final NDManager manager;
    final List<BlockState> blocks;
    final List<String> unmanaged;
    final RunStatistics stats = new RunStatistics();
    final BatchSpeedup speedup;
    final ModelPasses passes;
    final ParameterStep parameterStep;
    final AuxiliaryUpdate aux;
    final NonFiniteGuard guard;
    final Warmup warmup;
    final KroneckerStart kronecker;
    final Pretraining pretraining;
    final FishLegState state;
    /** When λ learns: {@code updateAuxEvery} as a type. */
    final AuxSchedule schedule;

    /**
     * @param b the builder's inputs and settings
     * @throws IllegalArgumentException naming the setting, input or layer that is wrong
     */
    FishLegParts(FishLegInputs<?> b) {
        this.model = b.model;
        this.hp = b.toHyperparameters();
        this.schedule = hp.auxSchedule();
        if (hp.warmup() > 0 && (b.warmupData == null || b.warmupLoss == null)) {
            throw new IllegalArgumentException(
                    "warmup = " + hp.warmup() + " > 0 needs warmupData and warmupLoss (the"
                            + " diagonal warm-up estimates squared gradients from them); set both,"
                            + " or use warmup = 0 for Q0 = scale·I");
        }
        if (b.config != null) {
            throw new IllegalArgumentException(
                    "config is only used by the reference's BERT attention block, which FishLeg4J"
                            + " does not provide; leave it unset");
        }
        NDManager parent = ManagedLayers.parameterManager(model, "FishLeg");
        this.manager = parent.newSubManager(b.device != null ? b.device : parent.getDevice());
        boolean ok = false;
        try {
            Rng rng = new Rng(hp.seed());
            this.blocks = BlockState.createAll(model, b.likelihood, hp, rng, manager);
            ParameterStep.DecayTowards decay = hp.fineTune() ? ParameterStep.DecayTowards.START
                    : ParameterStep.DecayTowards.ZERO;
            this.parameterStep = new ParameterStep(new ParameterStep.Settings(
                    hp.beta(), hp.weightDecay(), decay, hp.klClip(), hp.momentumForm()), manager);
            for (BlockState g : blocks) { // θ0 is kept for the likelihood even without fineTune
                parameterStep.addGroup(g.block()::getParameterArrays,
                        hp.fineTune() || g.owner() == BlockState.Owner.LIKELIHOOD
                                ? ParameterStep.StartValues.KEEP
                                : ParameterStep.StartValues.DISCARD);
            }
            this.speedup = new BatchSpeedup(blocks, hp.batchSpeedup(), stats);
            this.passes = new ModelPasses(model, b.draw, b.nll, b.likelihood, speedup, manager);
            this.unmanaged = BlockState.unmanaged(model, blocks);
            if (!unmanaged.isEmpty()) {
                LOG.info("FishLeg does not manage these parameters (they change only if another"
                        + " optimizer trains them): {}", unmanaged);
            }
            this.aux = new AuxiliaryUpdate(hp, blocks, passes, b.auxData, stats, rng, manager);
            this.guard = new NonFiniteGuard(hp.nonFinitePolicy(), blocks, stats);
            this.warmup = new Warmup(hp, blocks, passes, manager);
            this.pretraining = new Pretraining(hp, blocks, passes, aux, manager);
            warmup.run(b.warmupData, b.warmupLoss, hp.scale());
            this.kronecker = new KroneckerStart(
                    hp, blocks, model, b.draw, b.nll, b.auxData, speedup, manager);
            kronecker.start();
            Map<String, Object> owners = new LinkedHashMap<>();
            owners.put("optimizer", rng);
            owners.put("auxData", b.auxData);
            owners.put("draw", b.draw);
            owners.put("likelihood", b.likelihood);
            this.state = new FishLegState(model, hp, blocks, parameterStep, aux.adam(), stats,
                    RngOwner.generators(owners));
            ok = true;
        } finally {
            if (!ok) {
                manager.close();
            }
        }
    }

    /**
     * One step of {@link FishLeg#step()}: the auxiliary updates of the schedule, the natural
     * gradient, the parameter step, and Q's renewal from K-FAC's factors when due.
     *
     * @return what the step did
     */
    FishLegStep step() {
        long index = stats.steps();
        int updates = Math.max(schedule.updatesAt(index), burstUpdates(index));
        try (Scope scope = Scope.open(manager)) {
            NDList[] grads = passes.currentGradients(blocks, scope);
            if (index == 0) {
                ModelPasses.requireGradients(grads, blocks.get(0).block(), scope);
            }
            var factors = speedup.recordedFactors(grads, scope);
            speedup.clearRecords();
            boolean auxStep = updates > 0;
            List<NDList> reusable = null; // Q(λ)u of the last auxiliary update, if λ stayed still
            if (auxStep) {
                // u trains λ, so a non-finite gradient must be caught before it is stored.
                if (!NonFiniteGuard.allFinite(grads) && guard.rejects(grads, "gradient")) {
                    return new FishLegStep(index, 0, false, true, 1, 0);
                }
                BlockState.storeAll(blocks, grads, factors, manager);
                for (int i = 0; i < updates; i++) {
                    reusable = aux.update(AuxMode.LEARN, FisherLabels.DRAWN, scope.manager()).products();
                }
            }
            NDList[] naturals =
                    speedup.naturalGradients(auxStep ? null : grads, factors, reusable, scope);
            var proposal = parameterStep.propose(naturals, grads, state.fishLr, scope);
            if (!proposal.isFinite()
                    && guard.rejectsStep(auxStep ? null : grads, naturals, proposal)) {
                return new FishLegStep(index, updates, false, true, 1, stats.lastFactoredBlocks());
            }
            parameterStep.commit(proposal);
        }
        stats.stepDone();
        boolean renewed = kronecker.afterStep(stats.steps());
        if (renewed && hp.auxMoments() == AuxMoments.RESET_AT_RENEWAL) {
            aux.adam().reset();
        }
        return new FishLegStep(index, updates, renewed, false, parameterStep.lastClipFactor(),
                stats.lastFactoredBlocks());
    }

    /**
     * With {@code auxBurst} b > 0 and a Kronecker start: one update on each of the first b steps
     * after every start, while Q is fresh from K-FAC.
     *
     * @param steps the steps completed before this one
     * @return 1 within a burst, else 0
     */
    private int burstUpdates(long steps) {
        if (hp.auxBurst() <= 0 || hp.kroneckerStart() <= 0) {
            return 0;
        }
        long sinceStart = hp.kroneckerEvery() > 0 ? steps % hp.kroneckerEvery() : steps;
        return sinceStart < hp.auxBurst() ? 1 : 0;
    }

    /**
     * @param name a managed layer's dotted name (or the likelihood block's)
     * @return its index among the blocks
     * @throws IllegalArgumentException if FishLeg does not manage it
     */
    int index(String name) {
        for (int gi = 0; gi < blocks.size(); gi++) {
            if (blocks.get(gi).block().getName().equals(name)) {
                return gi;
            }
        }
        throw new IllegalArgumentException("FishLeg manages no layer named '" + name
                + "'; managed: " + blocks.stream().map(g -> g.block().getName()).toList());
    }
}
