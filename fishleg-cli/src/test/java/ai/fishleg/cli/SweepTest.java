package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The sweep on a synthetic problem whose best setting is known: a loss quadratic in log(lr) with
 * its minimum at lr = 4e-3 (and in log(damping) at 0.1); an interrupted sweep reruns only the
 * trials it had not finished.
 */
class SweepTest {

    static Sweep.Trial synthetic(Map<String, Double> p) {
        double x = Math.log(p.get("lr") / 4e-3);
        double y = p.containsKey("damping") ? Math.log(p.get("damping") / 0.1) : 0;
        double loss = 10 + x * x + 0.5 * y * y;
        // time to a target: fewer seconds the closer to the optimum
        return new Sweep.Trial(p, loss, Double.NaN, 100, 10, 50 * loss, 5 * loss, false);
    }

    @Test
    void picksTheKnownBest() {
        List<Map<String, Double>> grid = Sweep.grid(Map.of("lr", Sweep.logGrid(1e-3, 2, 5)));
        assertThat(grid).hasSize(5);
        List<Sweep.Trial> trials = Sweep.run(grid, List.of(), SweepTest::synthetic, t -> { });
        assertThat(Sweep.best(trials, Sweep.Objective.FINAL_TEST_LOSS).orElseThrow().settings().get("lr"))
                .isCloseTo(4e-3, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(Sweep.best(trials, Sweep.Objective.SECONDS_TO_TARGET).orElseThrow().settings().get("lr"))
                .isCloseTo(4e-3, org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void twoAxesFindBoth() {
        var axes = new java.util.LinkedHashMap<String, List<Double>>();
        axes.put("lr", List.of(1e-3, 4e-3, 1.6e-2));
        axes.put("damping", List.of(0.01, 0.1, 1.0));
        List<Sweep.Trial> trials = Sweep.run(Sweep.grid(axes), List.of(), SweepTest::synthetic, t -> { });
        assertThat(trials).hasSize(9);
        assertThat(Sweep.best(trials, Sweep.Objective.FINAL_TEST_LOSS).orElseThrow().settings())
                .isEqualTo(Map.of("lr", 4e-3, "damping", 0.1));
    }

    @Test
    void divergedTrialsAreNeverBest() {
        Sweep.Trial good = synthetic(Map.of("lr", 1e-3));
        Sweep.Trial diverged = new Sweep.Trial(Map.of("lr", 4e-3), 1, Double.NaN, 3, 1, Double.NaN, Double.NaN, true);
        assertThat(Sweep.best(List.of(diverged, good), Sweep.Objective.FINAL_TEST_LOSS)).contains(good);
        assertThat(Sweep.best(List.of(diverged), Sweep.Objective.FINAL_TEST_LOSS)).isEmpty();
    }

    @Test
    void anInterruptedSweepResumesWhereItStopped() {
        List<Map<String, Double>> grid = Sweep.grid(Map.of("lr", List.of(1e-3, 2e-3, 4e-3, 8e-3)));
        List<List<Sweep.Trial>> saved = new ArrayList<>();
        List<Map<String, Double>> ran = new ArrayList<>();
        assertThatThrownBy(() -> Sweep.run(grid, List.of(), p -> {
            if (p.get("lr") == 4e-3) {
                throw new IllegalStateException("interrupted");
            }
            ran.add(p);
            return synthetic(p);
        }, t -> saved.add(List.copyOf(t)))).hasMessage("interrupted");
        List<Sweep.Trial> done = saved.get(saved.size() - 1);
        assertThat(done).hasSize(2);
        ran.clear();
        List<Sweep.Trial> all = Sweep.run(grid, done, p -> {
            ran.add(p);
            return synthetic(p);
        }, t -> { });
        assertThat(ran).containsExactly(grid.get(2), grid.get(3));
        assertThat(all).hasSize(4);
        assertThat(all.subList(0, 2)).containsExactlyElementsOf(done);
    }

    @Test
    void refusesBadGrids() {
        assertThatThrownBy(() -> Sweep.logGrid(1e-3, 1, 3)).hasMessageContaining("--factor");
        assertThatThrownBy(() -> Sweep.grid(Map.of("lr", List.of(-1.0)))).hasMessageContaining("> 0");
    }
}
