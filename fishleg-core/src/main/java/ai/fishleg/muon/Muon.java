package ai.fishleg.muon;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.CurvatureOptimizer;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Muon (Jordan et al. 2024, "Muon: an optimizer for hidden layers in neural networks"): for each
 * chosen weight matrix W with gradient G,
 *
 * <pre>
 *   B ← β B + (1 − β) G                      momentum (β = 0.95)
 *   U ← (1 − β) G + β B                      Nesterov (or U ← B)
 *   O ← NewtonSchulz(U as rows × cols)       ≈ the polar factor of U
 *   W ← (1 − η λ) W − η · s(rows, cols) · O   s = √max(1, rows/cols) ({@link StepScale})
 * </pre>
 *
 * and AdamW (the reference's {@code adam_update}, β = (0.9, 0.95), ε = 1e-10) for every other
 * trainable parameter, as muon.py's {@code MuonWithAuxAdam}. Which matrices get Muon: {@link
 * MuonLayers} (by default the hidden layers'). Driven as torch.optim: {@link #zeroGrad()}, the
 * user's backward pass, {@link #step()}; {@link #save} and {@link #load} keep the complete state,
 * so that a resumed run continues bit for bit.
 */
public final class Muon implements CurvatureOptimizer {

    /** How the momentum enters the update. */
    public enum MomentumForm {
        /** The reference's default: U = (1 − β) G + β B. */
        NESTEROV,
        /** U = B. */
        PLAIN
    }

    /**
     * Every setting of a Muon run; defaults in {@link Builder}.
     *
     * @param lr Muon's learning rate η
     * @param momentum β of the momentum
     * @param momentumForm Nesterov or plain
     * @param nsSteps Newton-Schulz iterations
     * @param stepScale how the orthogonalised update is scaled per matrix shape
     * @param weightDecay decoupled weight decay λ of the Muon matrices (per unit of η)
     * @param layers which weight matrices get Muon
     * @param adamLr AdamW's learning rate
     * @param adamBeta1 AdamW's β₁
     * @param adamBeta2 AdamW's β₂
     * @param adamEps AdamW's ε
     * @param adamWeightDecay AdamW's decoupled weight decay (per unit of its learning rate)
     */
    public record Settings(double lr, double momentum, MomentumForm momentumForm, int nsSteps,
            StepScale stepScale, double weightDecay, MuonLayers layers, double adamLr, double adamBeta1,
            double adamBeta2, double adamEps, double adamWeightDecay) {

        /** Validates every value; each message names the setting. */
        public Settings {
            positive("lr", lr);
            check(momentum >= 0 && momentum < 1, "momentum must be in [0, 1), got " + momentum);
            check(nsSteps >= 1, "nsSteps must be >= 1, got " + nsSteps);
            check(weightDecay >= 0 && Double.isFinite(weightDecay), "weightDecay must be >= 0, got " + weightDecay);
            positive("adamLr", adamLr);
            check(adamBeta1 >= 0 && adamBeta1 < 1, "adamBeta1 must be in [0, 1), got " + adamBeta1);
            check(adamBeta2 >= 0 && adamBeta2 < 1, "adamBeta2 must be in [0, 1), got " + adamBeta2);
            positive("adamEps", adamEps);
            check(adamWeightDecay >= 0 && Double.isFinite(adamWeightDecay),
                    "adamWeightDecay must be >= 0, got " + adamWeightDecay);
            check(momentumForm != null && stepScale != null && layers != null,
                    "momentumForm, stepScale and layers must be set");
        }

        private static void positive(String name, double v) {
            check(v > 0 && Double.isFinite(v), name + " must be a finite number > 0, got " + v);
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException("Muon: " + message);
            }
        }

        /** @return a builder with these settings */
        public Builder toBuilder() {
            Builder b = new Builder();
            b.s = this;
            return b;
        }
    }

    /** Muon's settings, each with its default (the reference's). */
    public static final class Builder {
        private Settings s = new Settings(0.02, 0.95, MomentumForm.NESTEROV, 5, StepScale.ORIGINAL, 0,
                MuonLayers.hidden(), 3e-4, 0.9, 0.95, 1e-10, 0);

        private Builder() {}

        /** @param v Muon's learning rate (default 0.02) @return this */
        public Builder lr(double v) {
            s = new Settings(v, s.momentum, s.momentumForm, s.nsSteps, s.stepScale, s.weightDecay, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v β of the momentum (default 0.95) @return this */
        public Builder momentum(double v) {
            s = new Settings(s.lr, v, s.momentumForm, s.nsSteps, s.stepScale, s.weightDecay, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v Nesterov (default) or plain momentum @return this */
        public Builder momentumForm(MomentumForm v) {
            s = new Settings(s.lr, s.momentum, v, s.nsSteps, s.stepScale, s.weightDecay, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v Newton-Schulz iterations (default 5) @return this */
        public Builder nsSteps(int v) {
            s = new Settings(s.lr, s.momentum, s.momentumForm, v, s.stepScale, s.weightDecay, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v the update's scale per shape (default ORIGINAL) @return this */
        public Builder stepScale(StepScale v) {
            s = new Settings(s.lr, s.momentum, s.momentumForm, s.nsSteps, v, s.weightDecay, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v decoupled weight decay of the Muon matrices (default 0) @return this */
        public Builder weightDecay(double v) {
            s = new Settings(s.lr, s.momentum, s.momentumForm, s.nsSteps, s.stepScale, v, s.layers,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /** @param v which matrices get Muon (default {@link MuonLayers#hidden()}) @return this */
        public Builder layers(MuonLayers v) {
            s = new Settings(s.lr, s.momentum, s.momentumForm, s.nsSteps, s.stepScale, s.weightDecay, v,
                    s.adamLr, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
            return this;
        }

        /**
         * @param lr AdamW's learning rate (default 3e-4)
         * @param beta1 its β₁ (default 0.9)
         * @param beta2 its β₂ (default 0.95)
         * @param eps its ε (default 1e-10)
         * @param weightDecay its decoupled weight decay (default 0)
         * @return this
         */
        public Builder adamw(double lr, double beta1, double beta2, double eps, double weightDecay) {
            s = new Settings(s.lr, s.momentum, s.momentumForm, s.nsSteps, s.stepScale, s.weightDecay, s.layers,
                    lr, beta1, beta2, eps, weightDecay);
            return this;
        }

        /** @param v AdamW's learning rate (default 3e-4) @return this */
        public Builder adamLr(double v) {
            return adamw(v, s.adamBeta1, s.adamBeta2, s.adamEps, s.adamWeightDecay);
        }

        /** @return the settings */
        public Settings settings() {
            return s;
        }

        /**
         * @param model an initialised model (its parameters have arrays and gradients)
         * @return the optimizer
         */
        public Muon build(Block model) {
            return new Muon(model, s);
        }
    }

    private final Block model;
    private final Settings settings;
    private final ParameterSplit split;
    private final NDManager manager;
    /** Momentum B per Muon matrix. */
    private final Map<String, NDArray> momenta = new LinkedHashMap<>();
    /** AdamW's first and second moments per parameter. */
    private final Map<String, NDArray> firstMoments = new LinkedHashMap<>();
    private final Map<String, NDArray> secondMoments = new LinkedHashMap<>();
    private long steps;

    /** @return a builder with the reference's defaults */
    public static Builder builder() {
        return new Builder();
    }

    private Muon(Block model, Settings settings) {
        this.model = model;
        this.settings = settings;
        this.split = settings.layers().split(model);
        if (split.muon().isEmpty() && split.adamw().isEmpty()) {
            throw new IllegalArgumentException("Muon: the model has no trainable parameters");
        }
        Parameter any = (split.muon().isEmpty() ? split.adamw() : split.muon()).values().iterator().next();
        this.manager = any.getArray().getManager().newSubManager();
        split.muon().forEach((name, p) -> momenta.put(name, manager.zeros(p.getArray().getShape(),
                p.getArray().getDataType())));
        split.adamw().forEach((name, p) -> {
            firstMoments.put(name, manager.zeros(p.getArray().getShape(), p.getArray().getDataType()));
            secondMoments.put(name, manager.zeros(p.getArray().getShape(), p.getArray().getDataType()));
        });
    }

    @Override
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            for (Parameter p : split.muon().values()) {
                Tensors.zero(scope.own(p.getArray().getGradient()));
            }
            for (Parameter p : split.adamw().values()) {
                Tensors.zero(scope.own(p.getArray().getGradient()));
            }
        }
    }

    /** One Muon step of the chosen matrices and one AdamW step of the rest. */
    @Override
    public void step() {
        steps++;
        try (Scope scope = Scope.open(manager)) {
            split.muon().forEach((name, p) -> muonStep(scope, p.getArray(), momenta.get(name)));
            split.adamw().forEach((name, p) ->
                    adamwStep(scope, p.getArray(), firstMoments.get(name), secondMoments.get(name)));
        }
    }

    private void muonStep(Scope scope, NDArray w, NDArray momentum) {
        double beta = settings.momentum();
        NDArray g = scope.own(w.getGradient());
        scope.use(w);
        scope.use(momentum);
        Tensors.assign(momentum, momentum.mul(beta).add(g.mul(1 - beta)));
        NDArray u = settings.momentumForm() == MomentumForm.NESTEROV
                ? g.mul(1 - beta).add(momentum.mul(beta)) : momentum;
        Shape shape = w.getShape();
        long rows = shape.get(0);
        long cols = shape.size() / rows;
        NDArray o = NewtonSchulz.orthogonalize(u.reshape(rows, cols), settings.nsSteps()).reshape(shape);
        double eta = settings.lr();
        Tensors.assign(w, w.mul(1 - eta * settings.weightDecay())
                .sub(o.mul(eta * settings.stepScale().factor(rows, cols))));
    }

    private void adamwStep(Scope scope, NDArray w, NDArray m, NDArray v) {
        double b1 = settings.adamBeta1();
        double b2 = settings.adamBeta2();
        NDArray g = scope.own(w.getGradient());
        scope.use(w);
        scope.use(m);
        scope.use(v);
        Tensors.assign(m, m.mul(b1).add(g.mul(1 - b1)));
        Tensors.assign(v, v.mul(b2).add(g.square().mul(1 - b2)));
        NDArray mHat = m.div(1 - Math.pow(b1, steps));
        NDArray vHat = v.div(1 - Math.pow(b2, steps));
        double eta = settings.adamLr();
        Tensors.assign(w, w.mul(1 - eta * settings.adamWeightDecay())
                .sub(mHat.div(vHat.sqrt().add(settings.adamEps())).mul(eta)));
    }

    /** @return the settings in force */
    public Settings getSettings() {
        return settings;
    }

    /** @return which parameters Muon and AdamW update */
    public ParameterSplit getSplit() {
        return split;
    }

    /** @return the model */
    Block getModel() {
        return model;
    }

    /** @return the state tensors by checkpoint name (momenta and AdamW's moments) */
    Map<String, NDArray> stateTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        momenta.forEach((n, a) -> out.put("muon/momentum/" + n, a));
        firstMoments.forEach((n, a) -> out.put("adamw/m/" + n, a));
        secondMoments.forEach((n, a) -> out.put("adamw/v/" + n, a));
        return out;
    }

    /** @param steps the restored step count */
    void restoreSteps(long steps) {
        this.steps = steps;
    }

    /** @return the Muon matrices' and AdamW's parameter arrays */
    @Override
    public List<NDArray> getManagedParameters() {
        List<NDArray> out = new ArrayList<>();
        split.muon().values().forEach(p -> out.add(p.getArray()));
        split.adamw().values().forEach(p -> out.add(p.getArray()));
        return out;
    }

    @Override
    public long getStepCount() {
        return steps;
    }

    /** Muon skips no step (it has no non-finite guard). */
    @Override
    public long getSkippedSteps() {
        return 0;
    }

    /** Muon has no trust region: always 1. */
    @Override
    public double getLastClipFactor() {
        return 1;
    }

    /** Muon has no trust region: always 0. */
    @Override
    public long getClippedSteps() {
        return 0;
    }

    /** @return the last step's index (empty before the first step) */
    @Override
    public Optional<MuonStep> lastStep() {
        return steps == 0 ? Optional.empty() : Optional.of(new MuonStep(steps - 1));
    }

    /** @return the parameters, momenta, AdamW moments and step count ({@link MuonState}) */
    @Override
    public CheckpointState checkpointState() {
        return new MuonState(this);
    }

    @Override
    public void close() {
        manager.close();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "Muon(%s, muon on %s)", settings, split.muonNames());
    }
}
