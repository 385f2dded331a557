package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.optim.CheckpointState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link ai.fishleg.optim.Checkpoint} saves of a {@link Kfac} run: the model's parameters
 * ({@code model/<DJL name>}, running statistics included), the factors and damped inverses of
 * every K-FAC layer ({@code kfac/<layer>/A|G|Ainv|Ginv}), the momenta ({@code
 * momentum/<group>/<param>}), and as metadata the counters, the learning rate, each layer's
 * statistics updates, inversions and π, the state of every random generator and the settings.
 */
final class KfacState implements CheckpointState {

    private static final String STEPS = "kfac.stepCount";
    private static final String SKIPPED = "kfac.skippedSteps";
    private static final String CLIPPED = "kfac.clippedSteps";
    private static final String LAST_CLIP = "kfac.lastClipFactor";
    private static final String LR = "kfac.lr";
    private static final String SETTINGS = "kfac.settings";
    private static final String BLOCK = "kfac.block.";
    private static final String RNG = "rng.";

    private final Kfac kfac;

    KfacState(Kfac kfac) {
        this.kfac = kfac;
    }

    @Override
    public List<Entry> tensors() {
        List<Entry> out = new ArrayList<>();
        for (Pair<String, Parameter> p : kfac.getModel().getParameters()) {
            out.add(new Entry("model/" + p.getKey(), p.getValue().getArray()));
        }
        for (Map.Entry<String, NDArray> e : kfac.stateTensors().entrySet()) {
            out.add(new Entry(e.getKey(), e.getValue()));
        }
        return out;
    }

    @Override
    public Map<String, String> metadata() {
        Kfac.Counters c = kfac.counters();
        Map<String, String> out = new LinkedHashMap<>();
        out.put(STEPS, Long.toString(c.stepCount()));
        out.put(SKIPPED, Long.toString(c.skippedSteps()));
        out.put(CLIPPED, Long.toString(c.clippedSteps()));
        out.put(LAST_CLIP, Double.toString(c.lastClipFactor()));
        out.put(LR, Double.toString(c.lr()));
        out.put(SETTINGS, kfac.getSettings().toString());
        c.blocks().forEach((name, v) -> out.put(BLOCK + name,
                (long) v[0] + "," + (long) v[1] + "," + v[2]));
        kfac.rngStates().forEach((name, state) -> out.put(RNG + name, Long.toString(state)));
        return out;
    }

    @Override
    public Runnable restorer(Map<String, String> saved) {
        long steps = parseLong(saved, STEPS);
        long skipped = parseLong(saved, SKIPPED);
        long clipped = parseLong(saved, CLIPPED);
        double lastClip = parseDouble(saved, LAST_CLIP);
        double lr = parseDouble(saved, LR);
        Map<String, double[]> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            String v = require(saved, BLOCK + b.getName());
            String[] parts = v.split(",");
            if (parts.length != 3) {
                throw new IllegalArgumentException("checkpoint entry " + BLOCK + b.getName()
                        + " must be 'updates,inversions,pi', got '" + v + "'");
            }
            try {
                blocks.put(b.getName(), new double[] {Long.parseLong(parts[0]),
                    Long.parseLong(parts[1]), Double.parseDouble(parts[2])});
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("checkpoint entry " + BLOCK + b.getName()
                        + " is malformed: '" + v + "'", e);
            }
        }
        Map<String, Long> rngs = new LinkedHashMap<>();
        for (String name : kfac.rngStates().keySet()) {
            if (saved.containsKey(RNG + name)) {
                rngs.put(name, parseLong(saved, RNG + name));
            }
        }
        String settings = saved.get(SETTINGS);
        Kfac.Counters counters = new Kfac.Counters(steps, skipped, clipped, lastClip, lr, blocks);
        return () -> kfac.restore(counters, rngs, settings);
    }

    private static String require(Map<String, String> saved, String key) {
        String v = saved.get(key);
        if (v == null) {
            throw new IllegalArgumentException("the checkpoint has no entry " + key
                    + "; it was not written by Kfac.save for this model");
        }
        return v;
    }

    private static long parseLong(Map<String, String> saved, String key) {
        String v = require(saved, key);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("checkpoint entry " + key + " is not an integer: '"
                    + v + "'", e);
        }
    }

    private static double parseDouble(Map<String, String> saved, String key) {
        String v = require(saved, key);
        try {
            return Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("checkpoint entry " + key + " is not a number: '"
                    + v + "'", e);
        }
    }
}
