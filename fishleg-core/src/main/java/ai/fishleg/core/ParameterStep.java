package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The parameter update of a preconditioned optimizer, given per parameter group the
 * preconditioned ("natural") gradient n and the training gradient g, in one of two momentum
 * forms ({@link Momentum}). {@link Momentum#AVERAGE} (FishLeg's):
 *
 * <pre>
 *   m ← β·m + (1−β)·n
 *   p ← p − ν·η·m − wd·p                (decoupled weight decay)
 *   p ← p − η·(ν·m + wd·(p − p₀))       (decay towards START: it pulls towards p₀)
 *   ν = min(1, √(κ / (η²·|⟨m, g⟩|)))     (klClip κ > 0, over all groups together; else ν = 1)
 * </pre>
 *
 * {@link Momentum#HEAVY_BALL} (the PyTorch K-FAC implementations': the clipped natural gradient
 * handed to SGD with momentum and without dampening, the weight decay added to it):
 *
 * <pre>
 *   ν = min(1, √(κ / (η²·|⟨n, g⟩|)))     (klClip κ > 0, over all groups together; else ν = 1)
 *   m ← β·m + ν·n + wd·p                 (towards START: wd·(p − p₀))
 *   p ← p − η·m
 * </pre>
 *
 * It does not know where n comes from (FishLeg's Q(λ)g, a K-FAC inverse, ...). A step is
 * <em>proposed</em> out of place ({@link #propose}), so that the caller can check the new values
 * (for example that they are finite) before anything is written, then {@linkplain #commit
 * committed}: the parameters are overwritten and the new momentum becomes the buffer. A
 * proposal that is not committed changes nothing.
 *
 * <p>The momentum buffers and the start values p₀ live in the manager given at construction;
 * the temporaries of a proposal live in the caller's {@link Scope}.
 */
public final class ParameterStep {

    /** How the momentum accumulates the natural gradient. */
    public enum Momentum {
        /**
         * m ← βm + (1−β)n, a moving average; ν from ⟨m, g⟩ and applied to m; decoupled weight
         * decay p ← p − νηm − wd·p (FishLeg's seed convention).
         */
        AVERAGE,
        /**
         * m ← βm + ν·n + wd·p, heavy-ball momentum without dampening; ν from ⟨n, g⟩ and applied
         * to n; p ← p − ηm (torch.optim.SGD after a K-FAC preconditioner, as in the well-known
         * PyTorch K-FAC implementations; the weight decay is an L2 term added to the step).
         */
        HEAVY_BALL
    }

    /** What the weight decay pulls the parameters towards. */
    public enum DecayTowards {
        /** 0: plain weight decay. */
        ZERO,
        /** The start values p₀ of each group (fine-tuning; the pull is then scaled by η). */
        START
    }

    /** Whether a group keeps a copy of its parameters' values when it is added, as p₀. */
    public enum StartValues {
        /** Keep p₀ (needed when the decay pulls towards {@link DecayTowards#START}). */
        KEEP,
        /** Keep nothing. */
        DISCARD
    }

    /**
     * The settings of the update.
     *
     * @param beta momentum coefficient β of the natural gradient, in [0, 1)
     * @param weightDecay weight decay wd per step, >= 0 (decoupled with {@link Momentum#AVERAGE},
     *     added to the step before the momentum with {@link Momentum#HEAVY_BALL})
     * @param decayTowards what the decay pulls the parameters towards: 0, or their start values
     *     p₀ (fine-tuning; the pull is then scaled by η)
     * @param klClip trust-region bound κ, >= 0 (0: no clipping)
     * @param form how the momentum accumulates
     */
    public record Settings(double beta, double weightDecay, DecayTowards decayTowards,
            double klClip, Momentum form) {

        /**
         * Settings with the {@link Momentum#AVERAGE} form.
         *
         * @param beta momentum coefficient β, in [0, 1)
         * @param weightDecay decoupled weight decay per step, >= 0
         * @param decayTowards what the decay pulls towards: 0 or p₀
         * @param klClip trust-region bound κ, >= 0
         */
        public Settings(
                double beta, double weightDecay, DecayTowards decayTowards, double klClip) {
            this(beta, weightDecay, decayTowards, klClip, Momentum.AVERAGE);
        }

        /** Validates the settings; the message names the setting and its range. */
        public Settings {
            Objects.requireNonNull(form, "form");
            Objects.requireNonNull(decayTowards, "decayTowards");
            if (!(beta >= 0 && beta < 1)) {
                throw new IllegalArgumentException("beta must be in [0, 1), got " + beta);
            }
            if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) {
                throw new IllegalArgumentException(
                        "weightDecay must be a finite number >= 0, got " + weightDecay);
            }
            if (!(klClip >= 0) || Double.isInfinite(klClip)) {
                throw new IllegalArgumentException(
                        "klClip must be a finite number >= 0, got " + klClip);
            }
        }
    }

    /** One parameter group: its live parameters, momentum and (if kept) start values. */
    private record Group(Supplier<List<NDArray>> parameters, NDList momentum, NDList start) {}

    private final Settings settings;
    private final NDManager manager;
    private final List<Group> groups = new ArrayList<>();
    private double lastClipFactor = 1;
    private long clippedSteps;

    /**
     * @param settings the update's settings
     * @param manager owner of the momentum buffers and start values
     */
    public ParameterStep(Settings settings, NDManager manager) {
        this.settings = Objects.requireNonNull(settings, "settings");
        this.manager = Objects.requireNonNull(manager, "manager");
    }

    /**
     * Adds a parameter group, with a zero momentum.
     *
     * @param parameters supplies the live parameter arrays (read at every step, so that a model
     *     whose arrays are replaced stays attached)
     * @param start whether to keep a copy of the current values as p₀ (needed when the decay
     *     pulls towards {@link DecayTowards#START})
     * @return the group's index: the position of its vectors in every per-group array
     */
    public int addGroup(Supplier<List<NDArray>> parameters, StartValues start) {
        NDList momentum = new NDList();
        NDList starts = new NDList();
        for (NDArray p : parameters.get()) {
            momentum.add(own(p.zerosLike()));
            if (start == StartValues.KEEP) {
                starts.add(own(p.duplicate()));
            }
        }
        groups.add(new Group(parameters, momentum, starts));
        return groups.size() - 1;
    }

    /** @return the settings */
    public Settings settings() {
        return settings;
    }

    private boolean towardsStart() {
        return settings.decayTowards() == DecayTowards.START;
    }

    /** @return the number of groups */
    public int size() {
        return groups.size();
    }

    /**
     * @param group a group index
     * @return its momentum buffers (live; replaced by each committed step)
     */
    public NDList momentum(int group) {
        return groups.get(group).momentum();
    }

    /**
     * @param group a group index
     * @return its start values p₀ (live), empty if the group keeps none
     */
    public NDList start(int group) {
        return groups.get(group).start();
    }

    /** @return the clip factor ν of the last committed step (1 when not clipped) */
    public double lastClipFactor() {
        return lastClipFactor;
    }

    /** @return the number of committed steps with ν < 1 */
    public long clippedSteps() {
        return clippedSteps;
    }

    /**
     * Sets the clip statistics (when a run is resumed).
     *
     * @param clippedSteps committed steps with ν < 1
     * @param lastClipFactor ν of the last committed step
     */
    public void restoreStatistics(long clippedSteps, double lastClipFactor) {
        this.clippedSteps = clippedSteps;
        this.lastClipFactor = lastClipFactor;
    }

    /**
     * Computes a step without writing anything.
     *
     * @param naturals the natural gradient n per group, in parameter order; these must be the
     *     step's own temporaries: they are scaled in place and hold (1−β)·n (AVERAGE) or ν·n
     *     (HEAVY_BALL) afterwards (finite exactly when n is)
     * @param gradients the training gradient g per group (read only with klClip; may be null
     *     without)
     * @param lr the step size η
     * @param scope owns every array of the proposal
     * @return the new momenta and parameters, and ν
     */
    public Proposal propose(NDList[] naturals, NDList[] gradients, double lr, Scope scope) {
        if (naturals.length != groups.size()) {
            throw new IllegalArgumentException(
                    "expected natural gradients for " + groups.size() + " groups, got "
                            + naturals.length);
        }
        if (settings.form() == Momentum.HEAVY_BALL) {
            return proposeHeavyBall(naturals, gradients, lr, scope);
        }
        NDList[] momenta = newMomenta(naturals, scope);
        boolean clipping = settings.klClip() > 0;
        double inner = clipping ? stepGradientProduct(momenta, gradients) : Double.NaN;
        double nu = clipping ? clipFactor(inner, lr) : 1;
        return new Proposal(momenta, newParameters(momenta, nu, lr, scope), nu, clipping, inner);
    }

    /**
     * Writes a proposal: the parameters get their new values, and the new momentum arrays become
     * the buffers (moved out of the proposal's scope; the old buffers are closed). Records ν.
     *
     * @param proposal a proposal of this step, from the current step
     */
    public void commit(Proposal proposal) {
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            List<NDArray> params = g.parameters().get();
            for (int i = 0; i < params.size(); i++) {
                NDArray m = proposal.momenta[gi].get(i);
                if (m.getDataType() == g.momentum().get(i).getDataType()) {
                    g.momentum().set(i, own(m)).close();
                } else { // a 0-d float32 buffer times a Java double is promoted to float64
                    Tensors.assign(g.momentum().get(i), m);
                }
                Tensors.assign(params.get(i), proposal.parameters[gi].get(i));
            }
        }
        lastClipFactor = proposal.clipFactor;
        if (proposal.clipFactor < 1) {
            clippedSteps++;
        }
    }

    /**
     * The {@link Momentum#HEAVY_BALL} step: ν from ⟨n, g⟩, then m ← βm + νn + wd·p (or wd·(p −
     * p₀)), p ← p − ηm; n is scaled in place by ν.
     */
    private Proposal proposeHeavyBall(NDList[] naturals, NDList[] gradients, double lr,
            Scope scope) {
        boolean clipping = settings.klClip() > 0;
        double inner = clipping ? stepGradientProduct(naturals, gradients) : Double.NaN;
        double nu = clipping ? clipFactor(inner, lr) : 1;
        double beta = settings.beta();
        double wd = settings.weightDecay();
        NDList[] momenta = new NDList[groups.size()];
        NDList[] updated = new NDList[groups.size()];
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            List<NDArray> params = g.parameters().get();
            NDList m = new NDList();
            NDList out = new NDList();
            for (int i = 0; i < params.size(); i++) {
                NDArray p = scope.use(params.get(i));
                NDArray d = nu == 1 ? naturals[gi].get(i) : naturals[gi].get(i).muli(nu);
                NDArray mi = scope.own(g.momentum().get(i).mul(beta)).addi(d);
                if (wd != 0) { // wd·p in one operation (the same value as (1·p)·wd)
                    mi.addi(towardsStart() ? p.sub(g.start().get(i)).muli(wd) : p.mul(wd));
                }
                m.add(mi);
                out.add(mi.mul(-lr).addi(p));
            }
            momenta[gi] = m;
            updated[gi] = out;
        }
        return new Proposal(momenta, updated, nu, clipping, inner);
    }

    /** βm + (1−β)n per group, out of place; n is scaled in place (see {@link #propose}). */
    private NDList[] newMomenta(NDList[] naturals, Scope scope) {
        double beta = settings.beta();
        NDList[] momenta = new NDList[groups.size()];
        for (int gi = 0; gi < groups.size(); gi++) {
            NDList m = new NDList();
            for (int i = 0; i < naturals[gi].size(); i++) {
                m.add(scope.own(groups.get(gi).momentum().get(i).mul(beta))
                        .addi(naturals[gi].get(i).muli(1 - beta)));
            }
            momenta[gi] = m;
        }
        return momenta;
    }

    /**
     * p − νηm − wd·p, or p − η(νm + wd(p − p₀)) when fine-tuning; out of place. Written with as
     * few passes over the parameters as the formula allows (each is a full read and write of
     * millions of values): p·(1 − wd) − (νη)m, and (−νη)m + p without weight decay.
     */
    private NDList[] newParameters(NDList[] momenta, double nu, double lr, Scope scope) {
        NDList[] updated = new NDList[groups.size()];
        double stepSize = nu * lr;
        double wd = settings.weightDecay();
        for (int gi = 0; gi < groups.size(); gi++) {
            Group g = groups.get(gi);
            NDList out = new NDList();
            List<NDArray> params = g.parameters().get();
            for (int i = 0; i < params.size(); i++) {
                NDArray p = scope.use(params.get(i));
                NDArray m = momenta[gi].get(i);
                if (towardsStart()) {
                    NDArray pull = p.sub(g.start().get(i)).muli(wd);
                    NDArray dir = nu == 1 ? pull.addi(m) : pull.addi(m.mul(nu));
                    out.add(p.sub(dir.muli(lr)));
                } else if (wd == 0) {
                    out.add(m.mul(-stepSize).addi(p));
                } else {
                    out.add(p.mul(1 - wd).subi(m.mul(stepSize)));
                }
            }
            updated[gi] = out;
        }
        return updated;
    }

    /**
     * ⟨Δ, g⟩ over all groups: the new momentum (AVERAGE) or the natural gradient (HEAVY_BALL)
     * against the gradient.
     */
    private double stepGradientProduct(NDList[] momenta, NDList[] gradients) {
        Objects.requireNonNull(gradients, "gradients are needed with klClip");
        // one read-back for all groups; summed per group, then over groups
        return Tensors.sum(Tensors.blockDots(
                List.of(Arrays.asList(momenta)), List.of(Arrays.asList(gradients)))[0]);
    }

    /**
     * The trust-region factor ν = min(1, √(κ / (η² |⟨Δ, g⟩|))) over all groups together (the
     * K-FAC rule), with Δ the momentum about to be applied and g the training gradient.
     */
    private double clipFactor(double inner, double lr) {
        double denom = lr * lr * Math.abs(inner);
        // a NaN inner product gives 1 here (and fails Proposal.isFinite)
        return denom > 0 ? Math.min(1, Math.sqrt(settings.klClip() / denom)) : 1;
    }

    private NDArray own(NDArray a) {
        a.attach(manager);
        return a;
    }

    /** A computed step, not yet written. */
    public static final class Proposal {
        private final NDList[] momenta;
        private final NDList[] parameters;
        private final double clipFactor;
        private final boolean clipping;
        private final double inner;

        private Proposal(NDList[] momenta, NDList[] parameters, double clipFactor,
                boolean clipping, double inner) {
            this.momenta = momenta;
            this.parameters = parameters;
            this.clipFactor = clipFactor;
            this.clipping = clipping;
            this.inner = inner;
        }

        /** @return the new momentum per group */
        public NDList[] momenta() {
            return momenta;
        }

        /** @return the new parameter values per group */
        public NDList[] parameters() {
            return parameters;
        }

        /** @return the clip factor ν (1 without klClip) */
        public double clipFactor() {
            return clipFactor;
        }

        /**
         * Whether everything the step would write is finite, with one read-back. The new
         * momentum βm + (1−β)n is finite only if the natural gradient is (β < 1), and that only
         * if the gradient is (a preconditioner's products carry a NaN or an infinity through);
         * with klClip the finite ⟨Δ, g⟩ already proves momentum and gradient finite (a
         * non-finite factor makes the sum non-finite), so only the parameters are checked.
         *
         * @return true if the proposal can be committed safely
         */
        public boolean isFinite() {
            if (clipping && !Double.isFinite(inner)) {
                return false;
            }
            List<NDArray> arrays = new ArrayList<>();
            for (NDList[] perGroup : clipping ? new NDList[][] {parameters}
                    : new NDList[][] {momenta, parameters}) {
                for (NDList list : perGroup) {
                    arrays.addAll(list);
                }
            }
            return Tensors.allFinite(arrays);
        }
    }
}
