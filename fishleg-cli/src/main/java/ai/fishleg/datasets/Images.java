package ai.fishleg.datasets;

/**
 * A set of grey-level images with optional class labels, in memory.
 *
 * @param pixels row-major pixels in [0, 1], image after image ({@code count · height · width})
 * @param labels class of each image (0..classes-1), or null for unlabeled data
 * @param count number of images
 * @param height rows per image
 * @param width columns per image
 */
public record Images(float[] pixels, int[] labels, int count, int height, int width) {

    /** Checks that the sizes agree. */
    public Images {
        if ((long) count * height * width != pixels.length) {
            throw new IllegalArgumentException(
                    count + " images of " + height + "x" + width + " need " + (long) count * height * width
                            + " pixels, got " + pixels.length);
        }
        if (labels != null && labels.length != count) {
            throw new IllegalArgumentException(count + " images but " + labels.length + " labels");
        }
    }

    /** @return pixels per image */
    public int imageSize() {
        return height * width;
    }

    /**
     * @param n how many images to keep
     * @return the first {@code n} images (this set if it has at most {@code n})
     */
    public Images first(int n) {
        if (n >= count) {
            return this;
        }
        float[] p = java.util.Arrays.copyOf(pixels, n * imageSize());
        int[] l = labels == null ? null : java.util.Arrays.copyOf(labels, n);
        return new Images(p, l, n, height, width);
    }
}
