package ai.fishleg.cli;

import java.util.Locale;

/** The optimizers the command line can run. */
public enum OptimizerKind {
    /** FishLeg4J. */
    FISHLEG("FishLeg"),
    /** DJL's Adam. */
    ADAM("Adam"),
    /** DJL's SGD with momentum. */
    SGD("SGD");

    private final String displayName;

    OptimizerKind(String displayName) {
        this.displayName = displayName;
    }

    /** @return the name in a sentence ("FishLeg reached ...") */
    public String displayName() {
        return displayName;
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
