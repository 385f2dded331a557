package ai.fishleg.datasets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class CurvesTest {

    @Test
    void sameSeedGivesIdenticalImages() {
        ImageDataset a = Curves.generate(50, 20, 7);
        ImageDataset b = Curves.generate(50, 20, 7);
        assertThat(a.train().pixels()).isEqualTo(b.train().pixels());
        assertThat(a.test().pixels()).isEqualTo(b.test().pixels());
    }

    @Test
    void otherSeedGivesOtherImagesAndTrainAndTestDiffer() {
        ImageDataset a = Curves.generate(20, 20, 7);
        ImageDataset b = Curves.generate(20, 20, 8);
        assertThat(a.train().pixels()).isNotEqualTo(b.train().pixels());
        assertThat(a.train().pixels()).isNotEqualTo(a.test().pixels());
    }

    @Test
    void testSetDoesNotDependOnTrainingSetSize() {
        assertThat(Curves.generate(10, 15, 3).test().pixels())
                .isEqualTo(Curves.generate(40, 15, 3).test().pixels());
        // and a larger training set extends the smaller one
        float[] small = Curves.generate(10, 1, 3).train().pixels();
        float[] large = Curves.generate(40, 1, 3).train().pixels();
        for (int i = 0; i < small.length; i++) {
            assertThat(large[i]).isEqualTo(small[i]);
        }
    }

    @Test
    void everyImageIsAThinStrokeInTheUnitInterval() {
        Images imgs = Curves.generate(200, 1, 11).train();
        assertThat(imgs.height()).isEqualTo(28);
        assertThat(imgs.width()).isEqualTo(28);
        for (int i = 0; i < imgs.count(); i++) {
            float max = 0;
            int inked = 0;
            for (int k = 0; k < 784; k++) {
                float v = imgs.pixels()[i * 784 + k];
                assertThat(v).isBetween(0f, 1f);
                max = Math.max(max, v);
                inked += v > 0.5f ? 1 : 0;
            }
            // a curve always passes within half a pixel diagonal (√0.5) of some pixel centre
            assertThat(max).isGreaterThanOrEqualTo((float) Math.exp(-0.5 / (2 * Curves.SIGMA * Curves.SIGMA)));
            // a stroke at least MIN_SPAN long, not a filled area: about 2 pixels wide along a curve
            // shorter than 2 · 23√2 < 66 pixels
            assertThat(inked).isBetween((int) Curves.MIN_SPAN, 3 * 66);
        }
    }

    @Test
    void straightCurveRendersTheGaussianProfile() {
        // control points on row 10 from column 5 to 20: a straight segment, middle point on it
        float[] img = new float[784];
        Curves.render(new double[] {5, 10, 12.5, 10, 20, 10}, img, 0);
        double twoSigma2 = 2 * Curves.SIGMA * Curves.SIGMA;
        for (int c = 5; c <= 20; c++) {
            assertThat(img[10 * 28 + c]).isCloseTo(1f, within(1e-6f));
            assertThat(img[11 * 28 + c]).isCloseTo((float) Math.exp(-1 / twoSigma2), within(1e-6f));
            assertThat(img[8 * 28 + c]).isCloseTo((float) Math.exp(-4 / twoSigma2), within(1e-6f));
            assertThat(img[13 * 28 + c]).isZero(); // 3 px, beyond the 3σ reach
        }
        // beyond an end point the distance is to the end point
        assertThat(img[10 * 28 + 22]).isCloseTo((float) Math.exp(-4 / twoSigma2), within(1e-6f));
        assertThat(img[11 * 28 + 21]).isCloseTo((float) Math.exp(-2 / twoSigma2), within(1e-6f));
        assertThat(img[10 * 28 + 1]).isZero();
    }
}
