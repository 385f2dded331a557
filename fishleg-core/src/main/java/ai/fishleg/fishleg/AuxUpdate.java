package ai.fishleg.fishleg;

import java.util.Locale;

/**
 * The rule that turns the λ-gradient of the auxiliary loss into a step on λ (docs/ALGORITHM.md
 * §4.4, §19).
 */
public enum AuxUpdate {
    /** The auxiliary Adam (the default, the reference's). */
    ADAM,
    /**
     * Multiplicative, scale-free steps in the group each factor lives in, as the Kronecker
     * preconditioner of PSGD learns its triangular factors: a triangular factor X moves to
     * (I − η·T/‖T‖_F)·X or X·(I − η·T/‖T‖_F) with T upper triangular, a diagonal tensor to
     * X ⊙ (1 − η·H/max|H|), η = auxLr. No inversion, no moments; each step changes each factor by
     * at most the fraction η of its size, whatever that size.
     */
    LIE_GROUP;

    /**
     * @param name {@code "adam"} or {@code "lie-group"} (any case, - or _)
     * @return the value
     */
    public static AuxUpdate parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "auxUpdate must be one of adam, lie-group; got '" + name + "'", e);
        }
    }
}
