package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class TimeToTargetTest {

    /** An evaluation at a step, after some training seconds, with a test loss. */
    private static MetricsRow row(long step, double seconds, double testLoss) {
        return new MetricsRow("x", step / 10.0, step, seconds, Double.NaN, testLoss, Double.NaN);
    }

    @Test
    void onALossLinearInStepsAndSecondsTheInterpolationIsExact() {
        // loss = 100 - 2·step, seconds = 0.25·step + 1: evaluated every 10 steps
        List<MetricsRow> rows = new ArrayList<>();
        for (long s = 10; s <= 50; s += 10) {
            rows.add(row(s, 0.25 * s + 1, 100 - 2.0 * s));
        }
        for (double target : new double[] {79.5, 53, 47, 41.2, 0.5 * (100 - 2.0 * 50) + 0.5 * (100 - 2.0 * 40)}) {
            double step = (100 - target) / 2;
            TimeToTarget.Reached r = TimeToTarget.of(rows, target);
            assertThat(r).as("target %s", target).isNotNull();
            assertThat(r.steps()).as("target %s", target).isCloseTo(step, within(1e-12));
            assertThat(r.seconds()).as("target %s", target).isCloseTo(0.25 * step + 1, within(1e-12));
        }
    }

    @Test
    void aTargetNeverReachedGivesNull() {
        List<MetricsRow> rows = List.of(row(10, 1, 5.0), row(20, 2, 4.0), row(30, 3, Double.NaN), row(40, 4, 3.5));
        assertThat(TimeToTarget.of(rows, 3.4999)).isNull();
        assertThat(TimeToTarget.of(List.of(), 1.0)).isNull();
    }

    @Test
    void aTargetReachedAtTheFirstEvaluationIsThatEvaluation() {
        List<MetricsRow> rows = List.of(row(10, 1.5, 5.0), row(20, 3.0, 4.0));
        // nothing was evaluated before step 10, so there is nothing to interpolate from
        assertThat(TimeToTarget.of(rows, 6.0)).isEqualTo(new TimeToTarget.Reached(1.5, 10));
        assertThat(TimeToTarget.of(rows, 5.0)).isEqualTo(new TimeToTarget.Reached(1.5, 10));
    }

    @Test
    void aLossEqualToTheTargetReachesItExactlyThere() {
        List<MetricsRow> rows = List.of(row(10, 1.0, 9.0), row(20, 2.5, 7.0), row(30, 4.0, 7.0), row(40, 6.0, 2.0));
        assertThat(TimeToTarget.of(rows, 7.0)).isEqualTo(new TimeToTarget.Reached(2.5, 20));
    }

    @Test
    void theFirstCrossingCountsAndALaterRiseDoesNotUndoIt() {
        List<MetricsRow> rows = List.of(row(10, 1, 9.0), row(20, 2, 5.0), row(30, 3, 8.0), row(40, 4, 4.0));
        TimeToTarget.Reached r = TimeToTarget.of(rows, 6.0);
        // 9 → 5 crosses 6 three quarters of the way from step 10 to step 20
        assertThat(r.steps()).isCloseTo(17.5, within(1e-12));
        assertThat(r.seconds()).isCloseTo(1.75, within(1e-12));
    }

    @Test
    void afterANonFiniteEvaluationTheReachingOneIsTakenAsItIs() {
        List<MetricsRow> rows = List.of(row(10, 1, 9.0), row(20, 2, Double.NaN), row(30, 3, 4.0));
        assertThat(TimeToTarget.of(rows, 6.0)).isEqualTo(new TimeToTarget.Reached(3, 30));
    }

    @Test
    void aTargetThatIsNotANumberIsRefused() {
        assertThatThrownBy(() -> TimeToTarget.of(List.of(row(1, 1, 1)), Double.NaN))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("finite");
    }
}
