package ai.fishleg.spark;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.util.Pair;
import ai.fishleg.curvature.RecordingLinear;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.FishLikelihood;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The tests' model: a 6-4-6 auto-encoder with tanh and a Bernoulli likelihood, float32. */
final class TinyAutoencoder implements ReplicaSpec {

    static final int PIXELS = 6;
    static final int HIDDEN = 4;

    @Override
    public Block newModel() {
        return new SequentialBlock()
                .add(RecordingLinear.builder().setUnits(HIDDEN).build())
                .add(Activation::tanh)
                .add(RecordingLinear.builder().setUnits(PIXELS).build());
    }

    @Override
    public FishLikelihood newLikelihood() {
        return new BernoulliLikelihood();
    }

    @Override
    public Shape inputShape(long examples) {
        return new Shape(examples, PIXELS);
    }

    @Override
    public Shape labelShape(long examples) {
        return inputShape(examples);
    }

    /** @return an initialised model (the same values for the same seed) */
    Block initialised(NDManager manager, int seed) {
        Block model = newModel();
        Engine.getInstance().setRandomSeed(seed);
        model.initialize(manager, DataType.FLOAT32, inputShape(1));
        return model;
    }

    /** @return n examples with values in [0, 1] */
    static float[][] data(int n, long seed) {
        Random r = new Random(seed);
        float[][] x = new float[n][PIXELS];
        for (float[] row : x) {
            for (int j = 0; j < PIXELS; j++) {
                row[j] = r.nextFloat();
            }
        }
        return x;
    }

    /** @return copies of every parameter's values */
    static List<float[]> values(Block model) {
        List<float[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            out.add(p.getValue().getArray().toFloatArray());
        }
        return out;
    }

    /** @return copies of every parameter's gradient */
    static List<float[]> gradients(Block model) {
        List<float[]> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            try (NDArray g = p.getValue().getArray().getGradient()) {
                out.add(g.toFloatArray());
            }
        }
        return out;
    }
}
