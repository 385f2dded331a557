package ai.fishleg.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

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

    /**
     * @param text an optimizer name, any case
     * @return the optimizer
     * @throws IllegalArgumentException listing the valid names
     */
    public static OptimizerKind parse(String text) {
        for (OptimizerKind k : values()) {
            if (k.label().equalsIgnoreCase(text.trim())) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown optimizer '" + text + "'; choose from "
                + Arrays.stream(values()).map(OptimizerKind::label).collect(Collectors.joining(", ")));
    }

    @Override
    public String toString() {
        return label();
    }
}
