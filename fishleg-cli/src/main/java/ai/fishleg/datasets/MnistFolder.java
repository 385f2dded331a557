package ai.fishleg.datasets;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads a folder in the layout of MNIST and Fashion-MNIST: four IDX files {@code
 * train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte}, {@code t10k-images-idx3-ubyte} and
 * {@code t10k-labels-idx1-ubyte}, each plain or gzip-compressed ({@code .gz}); the variant with a
 * dot before {@code idx} ({@code train-images.idx3-ubyte}) is accepted too.
 */
public final class MnistFolder {

    /** Where Debian's {@code dataset-fashion-mnist} package installs the data. */
    public static final Path DEBIAN_FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

    /** Number of classes of MNIST and Fashion-MNIST. */
    public static final int CLASSES = 10;

    private MnistFolder() {}

    /**
     * Loads the training and test splits.
     *
     * @param dir the folder
     * @param name what the data is, for reports
     * @return the images (pixels scaled to [0, 1]) with their labels
     * @throws DataException naming the file that is missing or wrong
     */
    public static ImageDataset load(Path dir, String name) {
        if (!Files.isDirectory(dir)) {
            throw new DataException(dir + ": data folder not found");
        }
        Images train = split(dir, "train");
        Images test = split(dir, "t10k");
        if (train.height() != test.height() || train.width() != test.width()) {
            throw new DataException(String.format(
                    "%s: training images are %dx%d but test images are %dx%d",
                    dir, train.height(), train.width(), test.height(), test.width()));
        }
        return new ImageDataset(name + " (" + dir + ")", train, test);
    }

    private static Images split(Path dir, String prefix) {
        IdxFile images = IdxFile.read(find(dir, prefix + "-images", "idx3-ubyte"));
        IdxFile labels = IdxFile.read(find(dir, prefix + "-labels", "idx1-ubyte"));
        if (images.dims().length != 3) {
            throw new DataException(images.path() + ": expected images (3 dimensions: count, rows,"
                    + " columns) but the header declares " + Arrays.toString(images.dims()));
        }
        if (labels.dims().length != 1) {
            throw new DataException(labels.path() + ": expected labels (1 dimension) but the header"
                    + " declares " + Arrays.toString(labels.dims()));
        }
        if (images.count() != labels.count()) {
            throw new DataException(String.format("%s holds %d images but %s holds %d labels",
                    images.path(), images.count(), labels.path(), labels.count()));
        }
        int n = images.count();
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = labels.value(i);
            if (y[i] >= CLASSES) {
                throw new DataException(String.format(
                        "%s: label %d of item %d is not a class 0..%d", labels.path(), y[i], i, CLASSES - 1));
            }
        }
        float[] pixels = new float[images.data().length];
        for (int i = 0; i < pixels.length; i++) {
            pixels[i] = images.value(i) / 255f;
        }
        return new Images(pixels, y, n, images.dims()[1], images.dims()[2]);
    }

    /** The file {@code stem-suffix} or {@code stem.suffix}, plain or {@code .gz}. */
    private static Path find(Path dir, String stem, String suffix) {
        List<String> tried = new ArrayList<>();
        for (String sep : new String[] {"-", "."}) {
            for (String gz : new String[] {".gz", ""}) {
                String file = stem + sep + suffix + gz;
                tried.add(file);
                if (Files.exists(dir.resolve(file))) {
                    return dir.resolve(file);
                }
            }
        }
        throw new DataException(dir.resolve(stem + "-" + suffix + ".gz") + ": file not found (looked in "
                + dir + " for " + String.join(", ", tried) + ")");
    }
}
