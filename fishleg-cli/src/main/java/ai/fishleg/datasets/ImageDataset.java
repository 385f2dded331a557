package ai.fishleg.datasets;

/**
 * A training and a test set of images.
 *
 * @param name what the data is (for reports), e.g. "Fashion-MNIST (/usr/share/datasets/fashion-mnist)"
 * @param train the training images
 * @param test the test images
 */
public record ImageDataset(String name, Images train, Images test) {

    /**
     * @param trainCount keep at most this many training images (0 or less: all)
     * @param testCount keep at most this many test images (0 or less: all)
     * @return the data set restricted to the first images of each split
     */
    public ImageDataset limit(int trainCount, int testCount) {
        return new ImageDataset(
                name,
                trainCount > 0 ? train.first(trainCount) : train,
                testCount > 0 ? test.first(testCount) : test);
    }
}
