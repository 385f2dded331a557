package ai.fishleg.fishleg;

/**
 * Along which held-out directions v a {@link QualityProbe} measures ‖Q(λ)(F̂ + γI)v − v‖ / ‖v‖
 * (issue 22, goal 3).
 */
public enum ProbeDirections {
    /**
     * v ~ N(0, I), drawn from the probe's seed (the same at every measurement). F̂ from a batch
     * of B examples has rank at most about B per output, so most of a random v lies where F̂ is
     * noise or zero and (F̂ + γI)⁻¹ is 1/γ; the auxiliary loss with gradient directions (u = the
     * stored gradient) does not learn Q there.
     */
    GAUSSIAN,
    /**
     * v = the gradient of the training nll, at the current parameters, on one held-out batch with
     * its own observed labels, one direction per batch: the kind of vector FishLeg's step applies
     * Q to (Q·g), and the kind the auxiliary loss learns Q along.
     */
    GRADIENT
}
