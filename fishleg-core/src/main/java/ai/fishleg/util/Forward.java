package ai.fishleg.util;

import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;

/** The one place where FishLeg's ready-made functions run a model forward. */
public final class Forward {

    private Forward() {}

    /**
     * A training-mode forward pass (as the reference, whose model is in train mode during
     * auxiliary updates). Intermediate arrays belong to the inputs' manager.
     *
     * @param model the model
     * @param inputs its inputs
     * @return its outputs
     */
    public static NDList forward(Block model, NDList inputs) {
        ParameterStore store = new ParameterStore(inputs.head().getManager(), false);
        return model.forward(store, inputs, true);
    }
}
