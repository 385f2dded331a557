package ai.fishleg.fishleg;

import java.util.Locale;

/**
 * What the auxiliary Adam's moments do when a Kronecker renewal resets Q (docs/ALGORITHM.md §18).
 */
public enum AuxMoments {
    /** Carried across renewals (the default; the first update after a renewal repeats the old window's correction). */
    KEEP,
    /**
     * Set to zero, with their step counts, at each renewal: the first update after a renewal
     * starts Adam afresh from the new Q.
     */
    RESET_AT_RENEWAL;

    /**
     * @param name {@code "keep"} or {@code "reset-at-renewal"} (any case, - or _)
     * @return the value
     */
    public static AuxMoments parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "auxMoments must be one of keep, reset-at-renewal; got '" + name + "'", e);
        }
    }
}
