package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.optim.FishLeg;
import ai.fishleg.optim.Hyperparameters;
import ai.fishleg.tasks.FishLegSettings;
import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** FishLeg in the training loop. */
final class FishLegRule implements StepRule {

    private final FishLeg optimizer;

    /**
     * @param model the initialised network (every layer with parameters must be one FishLeg can
     *     manage; see {@link Experiment#requireFishLegSupport})
     * @param likelihood the task's likelihood
     * @param auxData random training batches for the auxiliary updates
     * @param settings the settings
     * @param seed seed of the optimizer's generator
     */
    FishLegRule(Block model, FishLikelihood likelihood, BatchSource auxData, FishLegSettings settings,
            long seed) {
        NllFunction nll = NllFunction.of(likelihood);
        FishLeg.Builder builder = FishLeg.builder(model, DrawFunction.of(likelihood), nll, auxData)
                .likelihood(likelihood)
                .seed(seed);
        this.optimizer = settings.configure(builder, auxData, nll).build();
    }

    @Override
    public void zeroGrad() {
        optimizer.zeroGrad();
    }

    @Override
    public void step() {
        optimizer.step();
    }

    /** Every field of the optimizer's {@link Hyperparameters}, by its library name. */
    @Override
    public Map<String, Object> hyperparameters() {
        Hyperparameters hp = optimizer.getHyperparameters();
        Map<String, Object> out = new LinkedHashMap<>();
        for (RecordComponent c : Hyperparameters.class.getRecordComponents()) {
            try {
                Object v = c.getAccessor().invoke(hp);
                out.put(c.getName(), v instanceof Enum<?> e ? e.name().toLowerCase(java.util.Locale.ROOT) : v);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("cannot read FishLeg setting " + c.getName(), e);
            }
        }
        return out;
    }

    /** Steps clipped by the trust region, skipped steps and auxiliary updates (cumulative). */
    @Override
    public Map<String, Object> statistics() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("steps", optimizer.getStepCount());
        out.put("auxUpdates", optimizer.getAuxUpdateCount());
        out.put("clippedSteps", optimizer.getClippedSteps());
        out.put("lastClipFactor", optimizer.getLastClipFactor());
        out.put("skippedSteps", optimizer.getSkippedSteps());
        out.put("skippedAuxUpdates", optimizer.getSkippedAuxUpdates());
        return out;
    }

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
