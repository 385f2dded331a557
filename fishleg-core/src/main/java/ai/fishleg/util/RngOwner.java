package ai.fishleg.util;

/**
 * Something whose randomness comes from its own {@link Rng}: likelihood samplers, random batch
 * sources, the draw functions built from a likelihood. FishLeg saves and restores the state of
 * every such generator it can reach in a checkpoint, so that a resumed run continues exactly.
 */
public interface RngOwner {

    /** @return the generator (live: its state can be read and set) */
    Rng getRng();
}
