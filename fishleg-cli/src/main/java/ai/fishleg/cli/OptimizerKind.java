package ai.fishleg.cli;

import java.util.Locale;

/** The optimizers the command line can run. */
public enum OptimizerKind {
    /** FishLeg4J. */
    FISHLEG("FishLeg"),
    /** K-FAC (Martens and Grosse 2015), {@link ai.fishleg.kfac.Kfac}. */
    KFAC("K-FAC"),
    /** DJL's Adam. */
    ADAM("Adam"),
    /** DJL's SGD with momentum. */
    SGD("SGD"),
    /** Muon (Jordan et al. 2024) with AdamW for the other parameters, {@link ai.fishleg.muon.Muon}. */
    MUON("Muon");

    private final String displayName;

    OptimizerKind(String displayName) {
        this.displayName = displayName;
    }

    /** @return the name in a sentence ("FishLeg reached ...") */
    public String displayName() {
        return displayName;
    }

    /** @return whether a run can be saved and resumed ({@code --save}, {@code --resume}) */
    public boolean checkpoints() {
        return this == FISHLEG || this == KFAC || this == MUON;
    }

    /** @return the name used on the command line and in outputs */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    @Override
    public String toString() {
        return label();
    }
}
