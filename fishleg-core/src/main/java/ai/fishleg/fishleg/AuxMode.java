package ai.fishleg.fishleg;

/** What one auxiliary update ({@link FishLeg#updateAux}) does with its loss. */
public enum AuxMode {
    /** Evaluate the auxiliary loss and take one Adam step on λ. */
    LEARN,
    /** Only evaluate the auxiliary loss; λ stays as it is. */
    EVALUATE
}
