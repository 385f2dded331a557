package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a {@link ai.fishleg.core.Checkpoint} saves of a {@link Kfac} run: the model's parameters
 * ({@code model/<DJL name>}, running statistics included), the factors and damped inverses of
 * every K-FAC layer ({@code kfac/<layer>/A|G|Ainv|Ginv}; under EIGEN damping Ainv and Ginv hold
 * the eigenvectors and {@code kfac/<layer>/scale} the scale 1/(d_G d_Aᵀ + γ)), the momenta ({@code
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

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    private final Kfac kfac;

    /**
     * The scalar state of a run: the step counters, the learning rate, and per K-FAC layer its
     * statistics updates, inversions and π.
     *
     * @param stepCount completed steps
     * @param skippedSteps skipped steps
     * @param clippedSteps clipped steps
     * @param lastClipFactor ν of the last step
     * @param lr current learning rate
     * @param blocks per layer name: [factorUpdates, inversions, π]
     */
    record Counters(long stepCount, long skippedSteps, long clippedSteps, double lastClipFactor,
            double lr, Map<String, double[]> blocks) {}

    /**
     * @param kfac an optimizer
     * @return its scalar state now
     */
    static Counters counters(Kfac kfac) {
        Map<String, double[]> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            blocks.put(b.getName(), new double[] {b.getFactorUpdates(), b.getInversions(),
                b.getPi()});
        }
        return new Counters(kfac.getStepCount(), kfac.getSkippedSteps(), kfac.getClippedSteps(),
                kfac.getLastClipFactor(), kfac.getLr(), blocks);
    }

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
        Counters c = counters(kfac);
        Map<String, String> out = new LinkedHashMap<>();
        out.put(STEPS, Long.toString(c.stepCount()));
        out.put(SKIPPED, Long.toString(c.skippedSteps()));
        out.put(CLIPPED, Long.toString(c.clippedSteps()));
        out.put(LAST_CLIP, Double.toString(c.lastClipFactor()));
        out.put(LR, Double.toString(c.lr()));
        out.put(SETTINGS, kfac.getSettings().toString());
        c.blocks().forEach((name, v) -> out.put(BLOCK + name,
                (long) v[0] + "," + (long) v[1] + "," + v[2]));
        kfac.rngs().forEach((name, rng) -> out.put(RNG + name, Long.toString(rng.getState())));
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
        for (String name : kfac.rngs().keySet()) {
            if (saved.containsKey(RNG + name)) {
                rngs.put(name, parseLong(saved, RNG + name));
            }
        }
        String settings = saved.get(SETTINGS);
        Counters counters = new Counters(steps, skipped, clipped, lastClip, lr, blocks);
        return () -> restore(counters, rngs, settings);
    }

    /**
     * Sets the scalar state (after the tensors were restored).
     *
     * @param c the counters
     * @param rngStates generator states by name
     * @param savedSettings the saved settings as text, or null
     */
    private void restore(Counters c, Map<String, Long> rngStates, String savedSettings) {
        kfac.restoreCounts(c.stepCount(), c.skippedSteps(), c.lr());
        kfac.parameterStep().restoreStatistics(c.clippedSteps(), c.lastClipFactor());
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            double[] v = c.blocks().get(b.getName());
            if (v != null) {
                b.restoreCounters((long) v[0], (long) v[1], v[2]);
            }
        }
        CheckpointState.restoreGenerators(kfac.rngs(), rngStates);
        String now = kfac.getSettings().toString();
        if (savedSettings != null && !savedSettings.equals(now)) {
            LOG.info("resuming K-FAC with other settings than the checkpoint's: now {}, saved {}",
                    now, savedSettings);
        }
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
