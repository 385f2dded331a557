package ai.fishleg.tasks;

import ai.fishleg.muon.Muon;
import ai.fishleg.muon.MuonLayers;
import ai.fishleg.muon.StepScale;

/**
 * Muon's settings for a task (see {@link Muon.Builder} for what each one does); AdamW's β, ε and
 * the momentum form keep the library's defaults.
 *
 * @param lr Muon's learning rate
 * @param momentum β of Muon's momentum
 * @param nsSteps Newton-Schulz iterations
 * @param stepScale how the orthogonalised update is scaled per matrix shape
 * @param layers which weight matrices get Muon (the others, biases and norms get AdamW)
 * @param adamLr AdamW's learning rate
 * @param weightDecay decoupled weight decay of both parts
 */
public record MuonSettings(double lr, double momentum, int nsSteps, StepScale stepScale, MuonLayers layers,
        double adamLr, double weightDecay) {

    /** Validates the values (through the library's builder, whose messages name each setting). */
    public MuonSettings {
        configure(Muon.builder(), lr, momentum, nsSteps, stepScale, layers, adamLr, weightDecay);
    }

    /**
     * The reference's defaults (lr 0.02, momentum 0.95, 5 iterations, the original scale, the
     * hidden layers, no weight decay) with a task's Muon and AdamW learning rates.
     *
     * @param lr Muon's learning rate
     * @param adamLr AdamW's learning rate for the other parameters
     * @return the settings
     */
    public static MuonSettings standard(double lr, double adamLr) {
        Muon.Settings d = Muon.builder().settings();
        return new MuonSettings(lr, d.momentum(), d.nsSteps(), d.stepScale(), d.layers(), adamLr, d.weightDecay());
    }

    /**
     * @param builder a Muon builder
     * @return the builder with these settings
     */
    public Muon.Builder configure(Muon.Builder builder) {
        return configure(builder, lr, momentum, nsSteps, stepScale, layers, adamLr, weightDecay);
    }

    private static Muon.Builder configure(Muon.Builder b, double lr, double momentum, int nsSteps,
            StepScale stepScale, MuonLayers layers, double adamLr, double weightDecay) {
        Muon.Settings d = b.settings();
        return b.lr(lr).momentum(momentum).nsSteps(nsSteps).stepScale(stepScale).layers(layers).weightDecay(weightDecay)
                .adamw(adamLr, d.adamBeta1(), d.adamBeta2(), d.adamEps(), weightDecay);
    }

    /**
     * @param newLr another learning rate
     * @return these settings with it
     */
    public MuonSettings withLr(double newLr) {
        return new MuonSettings(newLr, momentum, nsSteps, stepScale, layers, adamLr, weightDecay);
    }
}
