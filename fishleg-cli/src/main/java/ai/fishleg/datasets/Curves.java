package ai.fishleg.datasets;

import ai.fishleg.util.Rng;

/**
 * A generated CURVES data set in the spirit of Hinton &amp; Salakhutdinov (Science, 2006): 28x28
 * grey-level images of smooth curves, each determined by three random points in the plane, so the
 * data lie near a 6-dimensional manifold (the code size of the CURVES auto-encoder).
 *
 * <p>Each curve is the quadratic Bézier curve with three control points drawn uniformly inside the
 * image (leaving a margin; the two end points at least {@value #MIN_SPAN} pixels apart), rendered
 * with an anti-aliased stroke: the intensity of a pixel is exp(−d²/(2σ²)) with d its distance to
 * the curve and σ = {@value #SIGMA} pixel, so values lie in [0, 1] with soft edges. The
 * images depend only on the seed; training and test images come from separate streams, so the
 * test set does not change with the number of training images.
 */
public final class Curves {

    /** Side of the square images. */
    public static final int SIZE = 28;
    /** Training images in the paper's data set. */
    public static final int PAPER_TRAIN = 20_000;
    /** Test images in the paper's data set. */
    public static final int PAPER_TEST = 10_000;

    private static final double MARGIN = 2.0;
    /** Width of the stroke: the standard deviation of its Gaussian profile, in pixels. */
    static final double SIGMA = 0.9;
    /** End points closer than this (pixels) are drawn again, so that every curve is clearly visible. */
    static final double MIN_SPAN = 12.0;
    private static final int SEGMENTS = 48;
    /** Pixels further than this from the curve stay 0 (exp(−4.5) ≈ 0.011 at 3σ). */
    private static final double REACH = 3 * SIGMA;

    private Curves() {}

    /**
     * Generates a data set.
     *
     * @param trainCount number of training images (at least 1)
     * @param testCount number of test images (at least 1)
     * @param seed the seed; equal seeds give identical images
     * @return the images (unlabeled)
     */
    public static ImageDataset generate(int trainCount, int testCount, long seed) {
        if (trainCount < 1 || testCount < 1) {
            throw new IllegalArgumentException(
                    "CURVES needs at least one training and one test image, got " + trainCount
                            + " and " + testCount);
        }
        Images train = images(trainCount, new Rng(seed ^ 0x7261696EL)); // "rain"
        Images test = images(testCount, new Rng(seed ^ 0x74657374L)); // "test"
        return new ImageDataset(
                "CURVES (generated: " + trainCount + " train, " + testCount + " test, seed " + seed + ")",
                train, test);
    }

    private static Images images(int count, Rng rng) {
        float[] pixels = new float[count * SIZE * SIZE];
        double[] pts = new double[6];
        for (int i = 0; i < count; i++) {
            do {
                for (int k = 0; k < 6; k++) {
                    pts[k] = MARGIN + rng.nextDouble() * (SIZE - 1 - 2 * MARGIN);
                }
            } while (Math.hypot(pts[4] - pts[0], pts[5] - pts[1]) < MIN_SPAN);
            render(pts, pixels, i * SIZE * SIZE);
        }
        return new Images(pixels, null, count, SIZE, SIZE);
    }

    /**
     * Draws the Bézier curve with control points (x0,y0), (x1,y1), (x2,y2) (pixel coordinates,
     * pixel centres at integers) into one image.
     */
    static void render(double[] p, float[] out, int offset) {
        double px = bezier(p[0], p[2], p[4], 0);
        double py = bezier(p[1], p[3], p[5], 0);
        for (int s = 1; s <= SEGMENTS; s++) {
            double t = (double) s / SEGMENTS;
            double qx = bezier(p[0], p[2], p[4], t);
            double qy = bezier(p[1], p[3], p[5], t);
            int c0 = Math.max(0, (int) Math.floor(Math.min(px, qx) - REACH));
            int c1 = Math.min(SIZE - 1, (int) Math.ceil(Math.max(px, qx) + REACH));
            int r0 = Math.max(0, (int) Math.floor(Math.min(py, qy) - REACH));
            int r1 = Math.min(SIZE - 1, (int) Math.ceil(Math.max(py, qy) + REACH));
            for (int r = r0; r <= r1; r++) {
                for (int c = c0; c <= c1; c++) {
                    double d2 = segmentDistanceSquared(c, r, px, py, qx, qy);
                    if (d2 <= REACH * REACH) {
                        float v = (float) Math.exp(-d2 / (2 * SIGMA * SIGMA));
                        int idx = offset + r * SIZE + c;
                        if (v > out[idx]) {
                            out[idx] = v;
                        }
                    }
                }
            }
            px = qx;
            py = qy;
        }
    }

    private static double bezier(double a, double b, double c, double t) {
        double u = 1 - t;
        return u * u * a + 2 * u * t * b + t * t * c;
    }

    private static double segmentDistanceSquared(
            double x, double y, double ax, double ay, double bx, double by) {
        double dx = bx - ax;
        double dy = by - ay;
        double len2 = dx * dx + dy * dy;
        double t = len2 == 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / len2));
        double ex = x - (ax + t * dx);
        double ey = y - (ay + t * dy);
        return ex * ex + ey * ey;
    }
}
