package ai.fishleg.tasks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.Locale;

/**
 * Initialises a network from a seed, independently of the engine's random generator, so that
 * every optimizer of a comparison starts from the same weights.
 *
 * <p>Only layers with a weight of two or more dimensions (Linear, Conv2d) are drawn, fan_in being
 * the number of weight entries per output unit; other parameters (BatchNorm's γ = 1, β = 0,
 * running statistics) keep DJL's constant initial values.
 */
public final class ModelInit {

    /** How weights and biases are drawn. */
    public enum Scheme {
        /**
         * Weights and biases uniform in ±1/√fan_in: PyTorch's default for Linear and Conv2d, from
         * which the reference examples trained.
         */
        PYTORCH,
        /** Weights uniform in ±√(6/fan_in) (He/Kaiming, variance 2/fan_in, for ReLU), biases 0. */
        HE;

        /** @return the name used on the command line */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private ModelInit() {}

    /**
     * Creates the parameters of {@code model} and fills them from {@code seed}.
     *
     * @param model the network
     * @param manager owner of the parameters
     * @param dataType element type
     * @param inputShape shape of one input batch
     * @param scheme how to draw the values
     * @param seed the seed; equal seeds give equal weights
     */
    public static void initialize(Block model, NDManager manager, DataType dataType, Shape inputShape,
            Scheme scheme, long seed) {
        model.initialize(manager, dataType, inputShape);
        fill(model, scheme, new Rng(seed));
    }

    private static void fill(Block block, Scheme scheme, Rng rng) {
        Parameter weight = null;
        for (Parameter p : block.getDirectParameters().values()) {
            if (p.getType() == Parameter.Type.WEIGHT && p.getArray().getShape().dimension() >= 2) {
                weight = p;
            }
        }
        if (weight != null) {
            Shape w = weight.getArray().getShape();
            double fanIn = (double) w.size() / w.get(0);
            for (Parameter p : block.getDirectParameters().values()) {
                if (p == weight) {
                    uniform(p.getArray(), scheme == Scheme.HE ? Math.sqrt(6 / fanIn) : 1 / Math.sqrt(fanIn), rng);
                } else if (p.getType() == Parameter.Type.BIAS) {
                    uniform(p.getArray(), scheme == Scheme.HE ? 0 : 1 / Math.sqrt(fanIn), rng);
                }
            }
        }
        for (Block child : block.getChildren().values()) {
            fill(child, scheme, rng);
        }
    }

    private static void uniform(NDArray target, double bound, Rng rng) {
        double[] v = rng.uniforms(Math.toIntExact(target.size()));
        for (int i = 0; i < v.length; i++) {
            v[i] = (2 * v[i] - 1) * bound;
        }
        try (NDArray values = Tensors.create(target.getManager(), v, target.getShape(), target.getDataType())) {
            Tensors.assign(target, values);
        }
    }
}
