package ai.fishleg.tasks;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.fishleg.datasets.Curves;
import ai.fishleg.datasets.DataException;
import ai.fishleg.datasets.ImageDataset;
import ai.fishleg.datasets.Images;
import ai.fishleg.datasets.MnistFolder;
import ai.fishleg.fishleg.Hyperparameters;
import ai.fishleg.likelihood.BernoulliLikelihood;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.SoftMaxLikelihood;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Supplier;

/**
 * A built-in learning task: a data set, a network, a likelihood and the settings (presets) that
 * train it well with each optimizer. See {@link Tasks} for the list.
 */
public final class Task {

    /** What the network learns. */
    public enum Kind {
        /** Reconstruct the input image; Bernoulli likelihood on the pixels (targets = inputs). */
        AUTOENCODER,
        /** Predict the class; softmax likelihood on one-hot targets. */
        CLASSIFIER
    }

    /** Where the images come from. */
    public enum Source {
        /** Generated CURVES images (no download). */
        CURVES("CURVES"),
        /** Fashion-MNIST in IDX format; default folder: Debian's dataset-fashion-mnist. */
        FASHION_MNIST("Fashion-MNIST"),
        /** MNIST in IDX format (no default folder). */
        MNIST("MNIST");

        private final String title;

        Source(String title) {
            this.title = title;
        }

        /** @return the data set's usual name */
        public String title() {
            return title;
        }
    }

    /** Environment variable naming a data folder, used when --data is not given. */
    public static final String DATA_ENV = "FISHLEG_DATA";

    /** Side of the square images of every built-in task. */
    public static final int SIDE = 28;

    /** Seed of the generated CURVES images (fixed: the data set is the same for every run). */
    public static final long CURVES_SEED = 2006;

    private final String name;
    private final String summary;
    private final Kind kind;
    private final Source source;
    private final boolean imageInput;
    private final Supplier<Block> model;
    private final int batchSize;
    private final int epochs;
    private final ModelInit.Scheme init;
    private final Hyperparameters fishLeg;
    private final BaselineSettings adam;
    private final BaselineSettings sgd;
    private final KfacTaskSettings kfac;
    private final MuonSettings muon;

    Task(String name, String summary, Kind kind, Source source, boolean imageInput,
            Supplier<Block> model, int batchSize, int epochs, ModelInit.Scheme init,
            Hyperparameters fishLeg, BaselineSettings adam, BaselineSettings sgd, KfacTaskSettings kfac,
            MuonSettings muon) {
        this.name = name;
        this.summary = summary;
        this.kind = kind;
        this.source = source;
        this.imageInput = imageInput;
        this.model = model;
        this.batchSize = batchSize;
        this.epochs = epochs;
        this.init = init;
        this.fishLeg = fishLeg;
        this.adam = adam;
        this.sgd = sgd;
        this.kfac = kfac;
        this.muon = muon;
    }

    /** @return the name used on the command line */
    public String name() {
        return name;
    }

    /** @return one line saying what the task is */
    public String summary() {
        return summary;
    }

    /** @return what the network learns */
    public Kind kind() {
        return kind;
    }

    /** @return where the images come from */
    public Source source() {
        return source;
    }

    /** @return whether accuracy is reported */
    public boolean isClassifier() {
        return kind == Kind.CLASSIFIER;
    }

    /** @return a new, uninitialised network */
    public Block newModel() {
        return model.get();
    }

    /** @return a new likelihood (each run gets its own, with its own sampling generator) */
    public FishLikelihood newLikelihood() {
        return kind == Kind.AUTOENCODER ? new BernoulliLikelihood() : new SoftMaxLikelihood();
    }

    /**
     * @param batch the batch size
     * @return the shape of one input batch: (batch, 784) or (batch, 1, 28, 28)
     */
    public Shape inputShape(long batch) {
        return imageInput ? new Shape(batch, 1, SIDE, SIDE) : new Shape(batch, (long) SIDE * SIDE);
    }

    /** @return the preset batch size */
    public int batchSize() {
        return batchSize;
    }

    /** @return the preset number of epochs */
    public int epochs() {
        return epochs;
    }

    /** @return the preset initialisation of the weights */
    public ModelInit.Scheme init() {
        return init;
    }

    /** @return the FishLeg preset (the library's defaults where the task sets nothing) */
    public Hyperparameters fishLegPreset() {
        return fishLeg;
    }

    /** @return the Adam preset */
    public BaselineSettings adamPreset() {
        return adam;
    }

    /** @return the SGD preset */
    public BaselineSettings sgdPreset() {
        return sgd;
    }

    /** @return the K-FAC preset */
    public KfacTaskSettings kfacPreset() {
        return kfac;
    }

    /** @return the Muon preset */
    public MuonSettings muonPreset() {
        return muon;
    }

    /**
     * Loads (or generates) the task's data.
     *
     * @param dataOption the folder given on the command line, or null
     * @param dataEnv the value of {@value #DATA_ENV}, or null
     * @param trainSize keep at most this many training images (0: all; for CURVES: generate this
     *     many, default {@value Curves#PAPER_TRAIN})
     * @param testSize the same for test images
     * @return the images
     * @throws DataException naming the file or folder that is missing or wrong
     */
    public ImageDataset loadData(Path dataOption, String dataEnv, int trainSize, int testSize) {
        if (source == Source.CURVES) {
            if (dataOption != null) {
                throw new IllegalArgumentException(
                        name + " generates its images, so --data is not used; leave it out (or pick"
                                + " a task that reads IDX files)");
            }
            return Curves.generate(
                    trainSize > 0 ? trainSize : Curves.PAPER_TRAIN,
                    testSize > 0 ? testSize : Curves.PAPER_TEST,
                    CURVES_SEED);
        }
        Path dir = dataFolder(dataOption, dataEnv);
        ImageDataset data = MnistFolder.load(dir, source.title()).limit(trainSize, testSize);
        Images train = data.train();
        if (train.height() != SIDE || train.width() != SIDE) {
            throw new DataException(String.format("%s: the images are %dx%d but %s expects %dx%d",
                    dir, train.height(), train.width(), name, SIDE, SIDE));
        }
        return data;
    }

    private Path dataFolder(Path dataOption, String dataEnv) {
        if (dataOption != null) {
            return dataOption;
        }
        if (dataEnv != null && !dataEnv.isBlank()) {
            return Path.of(dataEnv);
        }
        if (source == Source.FASHION_MNIST) {
            if (!Files.isDirectory(MnistFolder.DEBIAN_FASHION_MNIST)) {
                throw new DataException(MnistFolder.DEBIAN_FASHION_MNIST + ": Fashion-MNIST not found."
                        + " Install it with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu),"
                        + " or pass --data DIR (or set " + DATA_ENV + ") with a folder holding"
                        + " train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
                        + " t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz");
            }
            return MnistFolder.DEBIAN_FASHION_MNIST;
        }
        throw new DataException(name + " needs " + source.title() + " in IDX format, and there is no"
                + " default folder for it: pass --data DIR (or set " + DATA_ENV + ") with a folder"
                + " holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,"
                + " t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (plain files work too)");
    }

    /**
     * Copies a split into arrays the model can read.
     *
     * @param images the images
     * @param manager owner of the arrays
     * @param dataType element type
     * @return inputs shaped for the model and targets (the inputs for an auto-encoder, one-hot
     *     rows for a classifier)
     */
    public Split toArrays(Images images, NDManager manager, DataType dataType) {
        NDArray x = manager.create(images.pixels(), inputShape(images.count()));
        if (dataType != DataType.FLOAT32) {
            x = x.toType(dataType, false);
        }
        if (kind == Kind.AUTOENCODER) {
            return new Split(x, x);
        }
        if (images.labels() == null) {
            throw new IllegalArgumentException(name + " needs labelled images");
        }
        float[] oneHot = new float[images.count() * MnistFolder.CLASSES];
        for (int i = 0; i < images.count(); i++) {
            oneHot[i * MnistFolder.CLASSES + images.labels()[i]] = 1;
        }
        NDArray y = manager.create(oneHot, new Shape(images.count(), MnistFolder.CLASSES));
        if (dataType != DataType.FLOAT32) {
            y = y.toType(dataType, false);
        }
        return new Split(x, y);
    }

    /**
     * One split as arrays.
     *
     * @param inputs model inputs, examples on the first axis
     * @param targets targets, examples on the first axis
     */
    public record Split(NDArray inputs, NDArray targets) {
        /** @return the number of examples */
        public long size() {
            return inputs.getShape().get(0);
        }
    }

    @Override
    public String toString() {
        return name;
    }
}
