package ai.fishleg.core;

import static ai.fishleg.core.ParameterStep.DecayTowards.START;
import static ai.fishleg.core.ParameterStep.DecayTowards.ZERO;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.testing.Dense;
import ai.fishleg.util.Scope;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The shared parameter update against the formulas written out element by element in plain Java:
 * momentum, decoupled weight decay, the fine-tuning pull and the klClip factor; and that a
 * proposal writes nothing until it is committed.
 */
class ParameterStepTest {

    NDManager m;

    @BeforeEach
    void setUp() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        m.close();
    }

    NDArray array(double... v) {
        return m.create(v, new Shape(v.length));
    }

    /** Two steps with the given settings, checked against the formulas (float64). */
    ParameterStep checkTwoSteps(ParameterStep.Settings s, double lr) {
        double[] p0 = {0.5, -1.0, 2.0};
        double[] q0 = {3.0, -0.25};
        NDArray p = array(p0.clone());
        NDArray q = array(q0.clone());
        ParameterStep step = new ParameterStep(s, m);
        boolean towardsStart = s.decayTowards() == START;
        ParameterStep.StartValues keep = towardsStart ? ParameterStep.StartValues.KEEP
                : ParameterStep.StartValues.DISCARD;
        step.addGroup(() -> List.of(p), keep);
        step.addGroup(() -> List.of(q), keep);
        double[][] n = {{0.1, 0.2, -0.3}, {1.5, -0.5}};
        double[][] g = {{1.0, -2.0, 0.5}, {0.25, 4.0}};
        double[][] params = {p0.clone(), q0.clone()};
        double[][] start = {p0.clone(), q0.clone()};
        double[][] mom = {new double[3], new double[2]};
        for (int t = 0; t < 2; t++) {
            // expected, in plain Java
            double inner = 0;
            boolean heavy = s.form() == ParameterStep.Momentum.HEAVY_BALL;
            for (int b = 0; b < 2; b++) {
                for (int i = 0; i < n[b].length; i++) {
                    if (heavy) {
                        inner += n[b][i] * g[b][i];
                    } else {
                        mom[b][i] = s.beta() * mom[b][i] + (1 - s.beta()) * n[b][i];
                        inner += mom[b][i] * g[b][i];
                    }
                }
            }
            double nu = s.klClip() > 0
                    ? Math.min(1, Math.sqrt(s.klClip() / (lr * lr * Math.abs(inner)))) : 1;
            for (int b = 0; b < 2 && heavy; b++) {
                // torch.optim.SGD (no dampening) on the clipped natural gradient plus wd·p
                for (int i = 0; i < n[b].length; i++) {
                    double x = params[b][i];
                    double decay = towardsStart ? x - start[b][i] : x;
                    mom[b][i] = s.beta() * mom[b][i] + nu * n[b][i] + s.weightDecay() * decay;
                    params[b][i] = x - lr * mom[b][i];
                }
            }
            for (int b = 0; b < 2 && !heavy; b++) {
                for (int i = 0; i < n[b].length; i++) {
                    double x = params[b][i];
                    params[b][i] = towardsStart
                            ? x - lr * (nu * mom[b][i] + s.weightDecay() * (x - start[b][i]))
                            : x - nu * lr * mom[b][i] - s.weightDecay() * x;
                }
            }
            // the same step through ParameterStep
            double[] before = Dense.values(p);
            try (Scope scope = Scope.open(m)) {
                NDList[] naturals = {new NDList(scope.own(array(n[0]))),
                        new NDList(scope.own(array(n[1])))};
                NDList[] grads = {new NDList(scope.own(array(g[0]))),
                        new NDList(scope.own(array(g[1])))};
                ParameterStep.Proposal proposal = step.propose(naturals, grads, lr, scope);
                assertThat(proposal.isFinite()).isTrue();
                assertThat(proposal.clipFactor()).isCloseTo(nu, offset(1e-12));
                assertThat(Dense.values(p)).as("nothing written before commit")
                        .containsExactly(before);
                step.commit(proposal);
            }
            assertThat(Dense.values(p)).containsExactly(params[0], offset(1e-12));
            assertThat(Dense.values(q)).containsExactly(params[1], offset(1e-12));
            assertThat(Dense.values(step.momentum(0).get(0))).containsExactly(mom[0], offset(1e-12));
            assertThat(Dense.values(step.momentum(1).get(0))).containsExactly(mom[1], offset(1e-12));
            assertThat(step.lastClipFactor()).isCloseTo(nu, offset(1e-12));
        }
        return step;
    }

    @Test
    void momentumAndDecoupledWeightDecay() {
        checkTwoSteps(new ParameterStep.Settings(0.9, 1e-2, ZERO, 0), 0.1);
    }

    @Test
    void withoutWeightDecay() {
        checkTwoSteps(new ParameterStep.Settings(0.5, 0, ZERO, 0), 0.3);
    }

    @Test
    void fineTuningPullsTowardsTheStart() {
        checkTwoSteps(new ParameterStep.Settings(0.9, 0.2, START, 0), 0.1);
    }

    @Test
    void klClipScalesTheStepAndCountsClippedSteps() {
        ParameterStep plain = checkTwoSteps(new ParameterStep.Settings(0.9, 1e-3, ZERO, 1e-4), 0.5);
        assertThat(plain.clippedSteps()).isEqualTo(2);
        assertThat(plain.lastClipFactor()).isLessThan(1);
        ParameterStep tuned = checkTwoSteps(new ParameterStep.Settings(0.9, 1e-3, START, 1e-4), 0.5);
        assertThat(tuned.clippedSteps()).isEqualTo(2);
        ParameterStep wide = checkTwoSteps(new ParameterStep.Settings(0.9, 1e-3, ZERO, 1e9), 0.5);
        assertThat(wide.clippedSteps()).isZero();
    }

    @Test
    void heavyBallMomentumWithWeightDecayAndClip() {
        var heavy = ParameterStep.Momentum.HEAVY_BALL;
        checkTwoSteps(new ParameterStep.Settings(0.9, 1e-2, ZERO, 0, heavy), 0.1);
        checkTwoSteps(new ParameterStep.Settings(0.5, 0, ZERO, 0, heavy), 0.3);
        checkTwoSteps(new ParameterStep.Settings(0.9, 0.2, START, 0, heavy), 0.1);
        ParameterStep clipped = checkTwoSteps(new ParameterStep.Settings(0.9, 1e-3, ZERO, 1e-4, heavy), 0.5);
        assertThat(clipped.clippedSteps()).isEqualTo(2);
        ParameterStep wide = checkTwoSteps(new ParameterStep.Settings(0.9, 1e-3, ZERO, 1e9, heavy), 0.5);
        assertThat(wide.clippedSteps()).isZero();
    }

    @Test
    void theFourArgumentSettingsAreTheAverageForm() {
        assertThat(new ParameterStep.Settings(0.9, 0, ZERO, 0).form())
                .isEqualTo(ParameterStep.Momentum.AVERAGE);
    }

    @Test
    void aNonFiniteProposalIsReportedAndAnUncommittedOneChangesNothing() {
        NDArray p = array(1, 2);
        ParameterStep step = new ParameterStep(new ParameterStep.Settings(0.9, 0, ZERO, 0), m);
        step.addGroup(() -> List.of(p), ParameterStep.StartValues.DISCARD);
        try (Scope scope = Scope.open(m)) {
            NDList[] naturals = {new NDList(scope.own(array(1, Double.NaN)))};
            ParameterStep.Proposal proposal = step.propose(naturals, null, 0.1, scope);
            assertThat(proposal.isFinite()).isFalse();
        }
        assertThat(Dense.values(p)).containsExactly(1, 2);
        assertThat(Dense.values(step.momentum(0).get(0))).containsExactly(0, 0);
        assertThat(step.clippedSteps()).isZero();
    }

    @Test
    void badSettingsAreRejected() {
        assertThatThrownBy(() -> new ParameterStep.Settings(1.0, 0, ZERO, 0))
                .hasMessageContaining("beta");
        assertThatThrownBy(() -> new ParameterStep.Settings(0.9, -1, ZERO, 0))
                .hasMessageContaining("weightDecay");
        assertThatThrownBy(() -> new ParameterStep.Settings(0.9, 0, ZERO, Double.NaN))
                .hasMessageContaining("klClip");
    }
}
