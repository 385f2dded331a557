package ai.fishleg.fishleg;

import java.util.Locale;

/** How FishLeg re-initialises the weights of the linear layers it manages (docs/ALGORITHM.md §3.4). */
public enum Initialization {
    /** Keep the layer's weights as they are (DJL's or the user's initialisation). */
    UNIFORM,
    /** Weights ~ N(0, 1/in_features) (std 1/√in); biases kept. */
    NORMAL,
    /** Weights and biases set to 0 (for adapters). */
    ZERO;

    /**
     * @param name {@code "uniform"}, {@code "normal"} or {@code "zero"} (any case)
     * @return the value
     */
    public static Initialization parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "initialization must be one of uniform, normal, zero; got '" + name + "'", e);
        }
    }
}
