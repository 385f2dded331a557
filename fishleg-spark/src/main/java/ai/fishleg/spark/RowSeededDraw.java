package ai.fishleg.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.util.Forward;

/**
 * The executors' label draw: one training-mode forward pass over the share, then each example's
 * label drawn with the likelihood seeded from the job's seed and the example's id. An example's
 * label thus does not depend on which partition holds it, so N partitions draw what one draws.
 */
final class RowSeededDraw implements DrawFunction {

    private final FishLikelihood likelihood;
    private final long drawSeed;
    private final long[] ids;

    /**
     * @param likelihood draws the labels
     * @param drawSeed the job's seed
     * @param ids the ids of the examples, in the order of the batch's rows
     */
    RowSeededDraw(FishLikelihood likelihood, long drawSeed, long[] ids) {
        this.likelihood = likelihood;
        this.drawSeed = drawSeed;
        this.ids = ids;
    }

    @Override
    public LabeledBatch draw(Block model, NDList inputs) {
        NDArray preds = Forward.forward(model, inputs).singletonOrThrow();
        NDList rows = new NDList(ids.length);
        for (int i = 0; i < ids.length; i++) {
            likelihood.setSeed(Worker.seed(drawSeed, ids[i]));
            rows.add(likelihood.draw(preds.get(new NDIndex(i + ":" + (i + 1)))));
        }
        return new LabeledBatch(inputs, new NDList(rows.size() == 1 ? rows.get(0) : NDArrays.concat(rows, 0)));
    }
}
