package ai.fishleg.cli;

import ai.fishleg.core.CurvatureOptimizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A library optimizer ({@link CurvatureOptimizer}: FishLeg or K-FAC) in the training loop: steps,
 * checkpoints and the counters every such optimizer keeps; each subclass adds its settings and
 * its own counters.
 *
 * @param <O> the optimizer
 */
abstract class CurvatureRule<O extends CurvatureOptimizer> implements StepRule {

    /** The optimizer. */
    final O optimizer;

    CurvatureRule(O optimizer) {
        this.optimizer = optimizer;
    }

    @Override
    public void zeroGrad() {
        optimizer.zeroGrad();
    }

    @Override
    public void step() {
        optimizer.step();
    }

    /** Steps, clipped steps, the last clip factor, skipped steps, then {@link #moreStatistics}. */
    @Override
    public Map<String, Object> statistics() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("steps", optimizer.getStepCount());
        out.put("clippedSteps", optimizer.getClippedSteps());
        out.put("lastClipFactor", optimizer.getLastClipFactor());
        out.put("skippedSteps", optimizer.getSkippedSteps());
        moreStatistics(out);
        return out;
    }

    /** @param out where the optimizer's own counters go */
    abstract void moreStatistics(Map<String, Object> out);

    @Override
    public void save(Path file, Map<String, String> metadata) throws IOException {
        optimizer.save(file, metadata);
    }

    @Override
    public Map<String, String> load(Path file) throws IOException {
        return optimizer.load(file);
    }

    @Override
    public void close() {
        optimizer.close();
    }
}
