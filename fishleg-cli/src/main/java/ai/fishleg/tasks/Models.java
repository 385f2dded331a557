package ai.fishleg.tasks;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import ai.fishleg.curvature.RecordingConv2d;
import ai.fishleg.curvature.RecordingLinear;

/**
 * The networks of the built-in tasks (DJL blocks, not yet initialised). Linear layers are {@link
 * RecordingLinear}s: DJL Linear layers that let FishLeg's batchSpeedup apply Q to their inputs and
 * output gradients (the same numbers, a fraction of the arithmetic); convolutions are {@link
 * RecordingConv2d}s, whose inputs and output gradients K-FAC needs for its factors. For every
 * other optimizer they are plain Linear and Conv2d layers.
 */
public final class Models {

    private Models() {}

    /**
     * A mirrored auto-encoder: Linear layers of the given widths down to the code and back up to
     * the input size, ReLU after every layer except the code layer and the output layer (which
     * gives logits for a Bernoulli likelihood).
     *
     * @param inputSize size of the flat input
     * @param widths widths of the encoder layers, ending with the code size
     * @return the network, one flat {@link SequentialBlock} (layers named 01RecordingLinear,
     *     03RecordingLinear, ...)
     */
    public static SequentialBlock autoencoder(int inputSize, int... widths) {
        SequentialBlock net = new SequentialBlock();
        int layers = 2 * widths.length;
        for (int i = 0; i < layers; i++) {
            int out = i < widths.length ? widths[i] : (i == layers - 1 ? inputSize : widths[layers - 2 - i]);
            net.add(RecordingLinear.builder().setUnits(out).build());
            boolean code = i == widths.length - 1;
            boolean output = i == layers - 1;
            if (!code && !output) {
                net.add(Activation.reluBlock());
            }
        }
        return net;
    }

    /**
     * A multi-layer perceptron classifier: ReLU hidden layers, linear output (logits).
     *
     * @param classes number of classes
     * @param hidden widths of the hidden layers
     * @return the network
     */
    public static SequentialBlock mlp(int classes, int... hidden) {
        SequentialBlock net = new SequentialBlock();
        for (int h : hidden) {
            net.add(RecordingLinear.builder().setUnits(h).build());
            net.add(Activation.reluBlock());
        }
        net.add(RecordingLinear.builder().setUnits(classes).build());
        return net;
    }

    /**
     * A small convolutional classifier for 1x28x28 images: two blocks of Conv2d(5x5, padding 2) +
     * BatchNorm + ReLU + 2x2 max-pooling (16 and 32 channels), then a Linear layer to the logits.
     *
     * @param classes number of classes
     * @return the network
     */
    public static SequentialBlock cnn(int classes) {
        SequentialBlock net = new SequentialBlock();
        for (int channels : new int[] {16, 32}) {
            net.add(RecordingConv2d.builder()
                    .setKernelShape(new Shape(5, 5))
                    .optPadding(new Shape(2, 2))
                    .setFilters(channels)
                    .build());
            net.add(BatchNorm.builder().build());
            net.add(Activation.reluBlock());
            net.add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)));
        }
        net.add(Blocks.batchFlattenBlock());
        net.add(RecordingLinear.builder().setUnits(classes).build());
        return net;
    }
}
