package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.core.StateMetadata;
import ai.fishleg.util.Rng;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.reflect.TypeToken;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything a FishLeg run changes, in one place: the model's parameters (read through the
 * model), the per-block state (λ and u), momentum and θ0 ({@link ParameterStep}), the auxiliary
 * Adam's moments, the counters, the step size η and the random generators. It is what a
 * {@link Checkpoint} saves and restores.
 *
 * <p>Tensor names: {@code model/<DJL parameter name>}, {@code aux/<layer>/<name>}, {@code
 * momentum/<layer>/<param>}, {@code u/<layer>/<param>}, {@code theta0/<layer>/<param>}, {@code
 * param/likelihood/<param>} and {@code adam/<layer>/<name>/m|v}; the root layer is called {@code
 * <root>}. Metadata: the entry {@code fishleg} ({@link StateMetadata}), a JSON object of {@link
 * Saved}: {@code counters}, {@code rng} (generator name to state), {@code adamSteps} (aux tensor
 * name to its Adam step count) and {@code hyperparameters}. Checkpoints of the earlier layout, with
 * those four as separate JSON strings, are read too.
 */
final class FishLegState implements CheckpointState {

    private static final Logger LOG = LoggerFactory.getLogger(FishLegState.class);
    private static final Gson GSON =
            new GsonBuilder().serializeSpecialFloatingPointValues().disableHtmlEscaping().create();

    final Block model;
    final Hyperparameters hp;
    final List<BlockState> blocks;
    final ParameterStep parameterStep;
    final AuxAdam auxAdam;
    final RunStatistics stats;
    final Map<String, Rng> rngs;
    /** The current step size η (changed by learning-rate schedules). */
    double fishLr;

    /** The scalar state of a run, as saved. */
    record Counters(
            long stepCount,
            long auxUpdateCount,
            long skippedSteps,
            long skippedAuxUpdates,
            long clippedSteps,
            double lastClipFactor,
            double auxLoss,
            double fishLr) {}

    FishLegState(Block model, Hyperparameters hp, List<BlockState> blocks,
            ParameterStep parameterStep, AuxAdam auxAdam, RunStatistics stats,
            Map<String, Rng> rngs) {
        this.model = model;
        this.hp = hp;
        this.blocks = List.copyOf(blocks);
        this.parameterStep = parameterStep;
        this.auxAdam = auxAdam;
        this.stats = stats;
        this.rngs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(rngs));
        this.fishLr = hp.fishLr();
    }

    Counters counters() {
        return new Counters(stats.steps(), stats.auxUpdates(), stats.skippedSteps(),
                stats.skippedAuxUpdates(), parameterStep.clippedSteps(),
                parameterStep.lastClipFactor(), stats.auxLoss(), fishLr);
    }

    Map<String, Long> rngStates() {
        Map<String, Long> out = new LinkedHashMap<>();
        rngs.forEach((k, v) -> out.put(k, v.getState()));
        return out;
    }

    Map<String, Long> adamSteps() {
        Map<String, Long> out = new LinkedHashMap<>();
        for (BlockState b : blocks) {
            for (Map.Entry<String, NDArray> e : b.block().getAuxParameters().entrySet()) {
                AuxAdam.State st = auxAdam.states().get(e.getValue());
                if (st != null) {
                    out.put("aux/" + b.key() + "/" + e.getKey(), st.step);
                }
            }
        }
        return out;
    }

    @Override
    public List<Entry> tensors() {
        List<Entry> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            out.add(new Entry("model/" + p.getKey(), p.getValue().getArray()));
        }
        for (int gi = 0; gi < blocks.size(); gi++) {
            BlockState g = blocks.get(gi);
            String b = g.key();
            List<String> order = g.block().getOrder();
            if (g.owner() == BlockState.Owner.LIKELIHOOD) { // not the model's parameters
                List<NDArray> params = g.block().getParameterArrays();
                for (int i = 0; i < order.size(); i++) {
                    out.add(new Entry("param/" + b + "/" + order.get(i), params.get(i)));
                }
            }
            for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                String name = e.getKey();
                out.add(new Entry("aux/" + b + "/" + name, e.getValue(),
                        v -> g.block().state().assign(name, v)));
            }
            NDList momentum = parameterStep.momentum(gi);
            NDList theta0 = parameterStep.start(gi);
            for (int i = 0; i < order.size(); i++) {
                out.add(new Entry("momentum/" + b + "/" + order.get(i), momentum.get(i)));
                out.add(new Entry("u/" + b + "/" + order.get(i), g.u().get(i)));
                if (!theta0.isEmpty()) {
                    out.add(new Entry("theta0/" + b + "/" + order.get(i), theta0.get(i)));
                }
            }
            for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                AuxAdam.State st = auxAdam.states().get(e.getValue());
                if (st != null) {
                    out.add(new Entry("adam/" + b + "/" + e.getKey() + "/m", st.m));
                    out.add(new Entry("adam/" + b + "/" + e.getKey() + "/v", st.v));
                }
            }
        }
        return out;
    }

    /**
     * The scalar state as saved ({@link StateMetadata}, entry {@value #NAME}).
     *
     * @param counters the counters and η
     * @param rng each generator's state by name
     * @param adamSteps each auxiliary tensor's Adam step count, by its tensor name
     * @param hyperparameters the settings of the run that saved it (compared on load, for the log)
     */
    record Saved(Counters counters, Map<String, Long> rng, Map<String, Long> adamSteps,
            JsonObject hyperparameters) {}

    /** The name of FishLeg's entry in a checkpoint's metadata. */
    static final String NAME = "fishleg";

    @Override
    public Map<String, String> metadata() {
        return StateMetadata.write(NAME, new Saved(counters(), rngStates(), adamSteps(),
                GSON.toJsonTree(hp.asMap()).getAsJsonObject()));
    }

    @Override
    public Runnable restorer(Map<String, String> metadata) {
        Saved saved = StateMetadata.read(metadata, NAME, Saved.class)
                .orElseGet(() -> legacy(metadata));
        return () -> restore(saved);
    }

    /** The scalar state of a checkpoint of the earlier layout: one JSON string per part. */
    private static Saved legacy(Map<String, String> metadata) {
        Counters c = StateMetadata.Legacy.jsonEntry(metadata, "counters",
                new TypeToken<Counters>() {});
        Map<String, String> rngText = StateMetadata.Legacy.jsonEntry(metadata, "rng",
                new TypeToken<Map<String, String>>() {});
        Map<String, Long> steps = StateMetadata.Legacy.jsonEntry(metadata, "adamSteps",
                new TypeToken<Map<String, Long>>() {});
        Map<String, Long> rngStates = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : rngText.entrySet()) {
            try {
                rngStates.put(e.getKey(), Long.parseLong(e.getValue()));
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("the state of random generator '" + e.getKey()
                        + "' is not a number: '" + e.getValue() + "'", ex);
            }
        }
        JsonObject hp = StateMetadata.Legacy.jsonEntry(metadata, "hyperparameters",
                new TypeToken<JsonObject>() {});
        return new Saved(c, rngStates, steps, hp);
    }

    /** Sets the scalar state after the tensors were restored. */
    private void restore(Saved saved) {
        Counters c = saved.counters();
        for (BlockState g : blocks) {
            g.forgetFactors(); // u was replaced
        }
        stats.restore(c.stepCount(), c.auxUpdateCount(), c.skippedSteps(),
                c.skippedAuxUpdates(), c.auxLoss());
        parameterStep.restoreStatistics(c.clippedSteps(), c.lastClipFactor());
        fishLr = c.fishLr();
        CheckpointState.restoreGenerators(rngs, saved.rng());
        for (BlockState g : blocks) {
            for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                AuxAdam.State st = auxAdam.states().get(e.getValue());
                Long step = saved.adamSteps().get("aux/" + g.key() + "/" + e.getKey());
                if (st != null && step != null) {
                    st.step = step;
                }
            }
        }
        JsonElement now = GSON.toJsonTree(hp.asMap());
        if (!saved.hyperparameters().equals(now)) {
            LOG.info("resuming with different settings than the checkpoint's: now {}, saved {}",
                    now, saved.hyperparameters());
        }
    }
}
