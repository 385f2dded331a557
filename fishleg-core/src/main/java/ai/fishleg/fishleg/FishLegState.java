package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.util.Rng;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonParseException;
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
 * <root>}. Metadata: {@code hyperparameters}, {@code counters}, {@code rng} (generator name to
 * state) and {@code adamSteps} (aux tensor name to its Adam step count), each a JSON string.
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

    @Override
    public Map<String, String> metadata() {
        Map<String, String> rng = new LinkedHashMap<>();
        rngStates().forEach((k, v) -> rng.put(k, Long.toString(v)));
        Map<String, String> out = new LinkedHashMap<>();
        out.put("hyperparameters", GSON.toJson(hp.asMap()));
        out.put("counters", GSON.toJson(counters()));
        out.put("rng", GSON.toJson(rng));
        out.put("adamSteps", GSON.toJson(adamSteps()));
        return out;
    }

    @Override
    public Runnable restorer(Map<String, String> metadata) {
        Counters c = parse(metadata, "counters", new TypeToken<Counters>() {});
        Map<String, String> rngText = parse(metadata, "rng", new TypeToken<Map<String, String>>() {});
        Map<String, Long> steps = parse(metadata, "adamSteps", new TypeToken<Map<String, Long>>() {});
        Map<String, Long> rngStates = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : rngText.entrySet()) {
            try {
                rngStates.put(e.getKey(), Long.parseLong(e.getValue()));
            } catch (NumberFormatException ex) {
                throw new IllegalArgumentException("the state of random generator '" + e.getKey()
                        + "' is not a number: '" + e.getValue() + "'", ex);
            }
        }
        String saved = metadata.get("hyperparameters");
        return () -> restore(c, rngStates, steps, saved);
    }

    /** Sets the scalar state after the tensors were restored. */
    private void restore(Counters c, Map<String, Long> rngStates, Map<String, Long> steps,
            String saved) {
        for (BlockState g : blocks) {
            g.forgetFactors(); // u was replaced
        }
        stats.restore(c.stepCount(), c.auxUpdateCount(), c.skippedSteps(),
                c.skippedAuxUpdates(), c.auxLoss());
        parameterStep.restoreStatistics(c.clippedSteps(), c.lastClipFactor());
        fishLr = c.fishLr();
        CheckpointState.restoreGenerators(rngs, rngStates);
        for (BlockState g : blocks) {
            for (Map.Entry<String, NDArray> e : g.block().getAuxParameters().entrySet()) {
                AuxAdam.State st = auxAdam.states().get(e.getValue());
                Long step = steps.get("aux/" + g.key() + "/" + e.getKey());
                if (st != null && step != null) {
                    st.step = step;
                }
            }
        }
        String now = GSON.toJson(hp.asMap());
        if (saved != null && !saved.equals(now)) {
            LOG.info("resuming with different settings than the checkpoint's: now {}, saved {}",
                    now, saved);
        }
    }

    private static <T> T parse(Map<String, String> metadata, String key, TypeToken<T> type) {
        String json = metadata.get(key);
        if (json == null) {
            throw new IllegalArgumentException("its metadata has no '" + key + "' entry");
        }
        try {
            T value = GSON.fromJson(json, type);
            if (value == null) {
                throw new IllegalArgumentException("its metadata entry '" + key + "' is empty");
            }
            return value;
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(
                    "its metadata entry '" + key + "' is malformed: " + e.getMessage(), e);
        }
    }
}
