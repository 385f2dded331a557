package ai.fishleg.fishleg;

import java.util.Locale;

/**
 * Which direction u an auxiliary update trains Q(λ) to invert along (docs/ALGORITHM.md §7).
 */
public enum USampling {
    /** The stored gradient (the seed): Q is learned along the directions the optimizer moves in. */
    GRADIENT,
    /**
     * A fresh u ~ N(0, I) for every auxiliary update (the {@code main} reference's {@code
     * gaussian}): the expected auxiliary loss is ½tr(Q(F + γI)Q) − tr(Q), minimised by Q = (F +
     * γI)⁻¹ in every direction, not only along gradients. Drawn from the optimizer's own seeded
     * generator.
     */
    GAUSSIAN;

    /**
     * @param name {@code "gradient"} or {@code "gaussian"} (any case)
     * @return the value
     */
    public static USampling parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "uSampling must be one of gradient, gaussian; got '" + name + "'", e);
        }
    }
}
