package ai.fishleg.testing;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.ConstantInitializer;
import ai.djl.util.PairList;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;

/** Small models and data for tests. */
public final class Models {

    private Models() {}

    /**
     * @param m manager
     * @param dataType float32 or float64
     * @param sizes in, hidden..., out
     * @return an initialised MLP with tanh between linear layers
     */
    public static SequentialBlock mlp(NDManager m, DataType dataType, int... sizes) {
        SequentialBlock net = new SequentialBlock();
        for (int i = 1; i < sizes.length; i++) {
            net.add(Linear.builder().setUnits(sizes[i]).build());
            if (i < sizes.length - 1) {
                net.add(Activation.tanhBlock());
            }
        }
        net.initialize(m, dataType, new Shape(1, sizes[0]));
        return net;
    }

    /**
     * @param m manager
     * @param rng randomness
     * @param n examples
     * @param d features
     * @param dataType type
     * @return standard normal inputs (n, d)
     */
    public static NDArray gaussian(NDManager m, Rng rng, int n, int d, DataType dataType) {
        return Tensors.create(m, rng.gaussians(n * d), new Shape(n, d), dataType);
    }

    /** One training step of the hand-written loop: zeroGrad, backward of the nll, step. */
    public static double trainStep(FishLeg opt, Block model, NllFunction nll, LabeledBatch batch) {
        opt.zeroGrad();
        double loss;
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray l = nll.nll(model, batch);
            loss = Tensors.scalar(l);
            gc.backward(l);
        }
        opt.step();
        return loss;
    }

    /** A user layer with a parameter that FishLeg has no curvature block for: y = x ⊙ s. */
    public static final class Scale extends AbstractBlock {
        private final Parameter scale;

        /** @param n features */
        public Scale(int n) {
            scale = addParameter(Parameter.builder().setName("scale").setType(Parameter.Type.WEIGHT)
                    .optShape(new Shape(n)).optInitializer(new ConstantInitializer(1)).build());
        }

        @Override
        protected NDList forwardInternal(ParameterStore store, NDList inputs, boolean training,
                PairList<String, Object> params) {
            NDArray x = inputs.singletonOrThrow();
            return new NDList(x.mul(store.getValue(scale, x.getDevice(), training)));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }
    }
}
