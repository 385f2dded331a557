package ai.fishleg.testing;

import ai.djl.modality.nlp.DefaultVocabulary;
import ai.djl.modality.nlp.embedding.TrainableWordEmbedding;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.nn.pooling.Pool;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;

/** Small DJL models with every supported layer type, and generated data for them. */
public final class LayerModels {

    private LayerModels() {}

    /**
     * @param vocabulary number of rows of the table
     * @param dim embedding size
     * @return a trainable embedding whose inputs are row indices 0..vocabulary-1
     */
    public static TrainableWordEmbedding embedding(int vocabulary, int dim) {
        List<String> tokens = new ArrayList<>();
        for (int i = 0; i < vocabulary; i++) {
            tokens.add("t" + i);
        }
        DefaultVocabulary vocab = new DefaultVocabulary(tokens);
        return TrainableWordEmbedding.builder()
                .setVocabulary(vocab)
                .setEmbeddingSize(dim)
                .optUseDefault(false)
                .build();
    }

    /** Input shape of {@link #cnn()}: (batch, 1, 8, 8). */
    public static final Shape CNN_INPUT = new Shape(1, 1, 8, 8);

    /**
     * Conv2d(1→4, 3x3, pad 1) - BatchNorm - ReLU - MaxPool 2 - flatten - Linear(64→3).
     *
     * @param manager owner of the parameters
     * @param type element type
     * @return the initialised model; dotted names {@code 01Conv2d}, {@code 02BatchNorm}, {@code
     *     06Linear}
     */
    public static SequentialBlock cnn(NDManager manager, DataType type) {
        SequentialBlock model = new SequentialBlock()
                .add(Conv2d.builder().setFilters(4).setKernelShape(new Shape(3, 3))
                        .optPadding(new Shape(1, 1)).build())
                .add(BatchNorm.builder().build())
                .add(Activation::relu)
                .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)))
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(3).build());
        model.initialize(manager, type, CNN_INPUT);
        return model;
    }

    /** Sequence length of {@link #embeddingModel}. */
    public static final int SEQUENCE = 4;

    /**
     * Embedding(10 x 6) - LayerNorm over the embedding axis - flatten - Linear(24→3).
     *
     * @param manager owner of the parameters
     * @param type element type
     * @return the initialised model; dotted names {@code 01TrainableWordEmbedding}, {@code
     *     02LayerNorm}, {@code 04Linear}
     */
    public static SequentialBlock embeddingModel(NDManager manager, DataType type) {
        SequentialBlock model = new SequentialBlock()
                .add(embedding(10, 6))
                .add(LayerNorm.builder().axis(2).build())
                .add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(3).build());
        model.initialize(manager, type, new Shape(1, SEQUENCE));
        return model;
    }

    /**
     * Noisy images of three classes: class k is a fixed random template T_k plus N(0, 1) noise,
     * x = T_k + ε, with k uniform.
     *
     * @param manager owner
     * @param n number of examples
     * @param type element type of the images
     * @param rng generator
     * @return images (n, 1, 8, 8) and one-hot labels (n, 3)
     */
    public static LabeledBatch images(NDManager manager, int n, DataType type, Rng rng) {
        Rng templatesRng = new Rng(77);
        double[][] templates = new double[3][];
        for (int k = 0; k < 3; k++) {
            templates[k] = templatesRng.gaussians(64);
        }
        double[] x = rng.gaussians(n * 64);
        double[] y = new double[n * 3];
        for (int i = 0; i < n; i++) {
            int k = rng.nextInt(3);
            for (int j = 0; j < 64; j++) {
                x[i * 64 + j] += templates[k][j];
            }
            y[i * 3 + k] = 1;
        }
        NDArray xs = Tensors.create(manager, x, new Shape(n, 1, 8, 8), type);
        NDArray ys = Tensors.create(manager, y, new Shape(n, 3), type);
        return LabeledBatch.of(xs, ys);
    }

    /**
     * Token sequences whose class (of 3) is the first token modulo 3.
     *
     * @param manager owner
     * @param n number of examples
     * @param type element type of the labels
     * @param rng generator
     * @return token indices (n, 4) as int64 and one-hot labels (n, 3)
     */
    public static LabeledBatch tokens(NDManager manager, int n, DataType type, Rng rng) {
        long[] t = new long[n * SEQUENCE];
        double[] y = new double[n * 3];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < SEQUENCE; j++) {
                t[i * SEQUENCE + j] = rng.nextInt(10);
            }
            y[i * 3 + (int) (t[i * SEQUENCE] % 3)] = 1;
        }
        NDArray xs = manager.create(t, new Shape(n, SEQUENCE));
        NDArray ys = Tensors.create(manager, y, new Shape(n, 3), type);
        return LabeledBatch.of(xs, ys);
    }
}
