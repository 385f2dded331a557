package ai.fishleg.util;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Something whose randomness comes from its own {@link Rng}: likelihood samplers, random batch
 * sources, the draw functions built from a likelihood. FishLeg saves and restores the state of
 * every such generator it can reach in a checkpoint, so that a resumed run continues exactly.
 */
public interface RngOwner {

    /** @return the generator (live: its state can be read and set) */
    Rng getRng();

    /**
     * The distinct generators reachable from some objects (an {@link Rng} itself, or an {@code
     * RngOwner}'s), each under the first name that reaches it: what a checkpoint saves.
     *
     * @param owners name to object (null or generator-less objects are skipped)
     * @return name to generator, in the given order
     */
    static Map<String, Rng> generators(Map<String, ?> owners) {
        Map<String, Rng> out = new LinkedHashMap<>();
        owners.forEach((name, owner) -> {
            Rng r = owner instanceof Rng g ? g : owner instanceof RngOwner o ? o.getRng() : null;
            if (r != null && out.values().stream().noneMatch(x -> x == r)) {
                out.put(name, r);
            }
        });
        return out;
    }
}
