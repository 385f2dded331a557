package ai.fishleg.fishleg;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

/** updateAuxEvery's encoding read as a schedule, and the schedules' updates per step. */
class AuxScheduleTest {

    static int[] updates(AuxSchedule s, int steps) {
        return LongStream.range(0, steps).mapToInt(s::updatesAt).toArray();
    }

    @Test
    void theSignOfUpdateAuxEveryBecomesAType() {
        assertThat(AuxSchedule.of(3)).isEqualTo(new AuxSchedule.Periodic(3));
        assertThat(AuxSchedule.of(-2)).isEqualTo(new AuxSchedule.EveryStep(2));
        assertThat(AuxSchedule.of(0)).isEqualTo(new AuxSchedule.Never());
        assertThat(Hyperparameters.builder().updateAuxEvery(-4).build().auxSchedule())
                .isEqualTo(new AuxSchedule.EveryStep(4));
    }

    @Test
    void eachScheduleCountsItsUpdates() {
        assertThat(updates(new AuxSchedule.Periodic(3), 7)).containsExactly(1, 0, 0, 1, 0, 0, 1);
        assertThat(updates(new AuxSchedule.EveryStep(2), 3)).containsExactly(2, 2, 2);
        assertThat(updates(new AuxSchedule.Never(), 3)).containsExactly(0, 0, 0);
        assertThatThrownBy(() -> new AuxSchedule.Periodic(0)).hasMessageContaining(">= 1");
        assertThatThrownBy(() -> new AuxSchedule.EveryStep(0)).hasMessageContaining(">= 1");
    }
}
