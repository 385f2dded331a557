package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.StateMetadata;
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
 * momentum/<group>/<param>}), and as metadata (the entry {@code kfac}, a JSON object of {@link
 * Saved}, see {@link StateMetadata}) the counters, the learning rate, each layer's statistics
 * updates, inversions and π, the state of every random generator and the settings. Checkpoints of
 * the earlier layout (flat {@code kfac.*} and {@code rng.*} entries) are read too.
 */
final class KfacState implements CheckpointState {

    /** The name of K-FAC's entry in a checkpoint's metadata. */
    static final String NAME = "kfac";

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    private final Kfac kfac;

    /**
     * The counters of one K-FAC layer.
     *
     * @param factorUpdates statistics updates
     * @param inversions inversions
     * @param pi π of the last inversion
     */
    record BlockCounters(long factorUpdates, long inversions, double pi) {}

    /**
     * The scalar state of a run: the step counters, the learning rate, and per K-FAC layer its
     * statistics updates, inversions and π.
     *
     * @param stepCount completed steps
     * @param skippedSteps skipped steps
     * @param clippedSteps clipped steps
     * @param lastClipFactor ν of the last step
     * @param lr current learning rate
     * @param blocks per layer name
     */
    record Counters(long stepCount, long skippedSteps, long clippedSteps, double lastClipFactor,
            double lr, Map<String, BlockCounters> blocks) {}

    /**
     * The scalar state as saved ({@link StateMetadata}, entry {@value #NAME}).
     *
     * @param counters the counters
     * @param rng each generator's state by name
     * @param settings the settings of the run that saved it (compared on load, for the log)
     */
    record Saved(Counters counters, Map<String, Long> rng, String settings) {}

    /**
     * @param kfac an optimizer
     * @return its scalar state now
     */
    static Counters counters(Kfac kfac) {
        Map<String, BlockCounters> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            blocks.put(b.getName(), new BlockCounters(b.getFactorUpdates(), b.getInversions(),
                    b.getPi()));
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
        Map<String, Long> rng = new LinkedHashMap<>();
        kfac.rngs().forEach((name, r) -> rng.put(name, r.getState()));
        return StateMetadata.write(NAME, new Saved(counters(kfac), rng,
                kfac.getSettings().toString()));
    }

    @Override
    public Runnable restorer(Map<String, String> saved) {
        Saved s = StateMetadata.read(saved, NAME, Saved.class).orElseGet(() -> legacy(saved));
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            if (!s.counters().blocks().containsKey(b.getName())) {
                throw new IllegalArgumentException("the checkpoint has no counters of K-FAC layer "
                        + b.getName() + "; it was not written by Kfac.save for this model");
            }
        }
        return () -> restore(s);
    }

    /** The flat entries of the earlier layout. */
    private static final String STEPS = "kfac.stepCount";
    private static final String SKIPPED = "kfac.skippedSteps";
    private static final String CLIPPED = "kfac.clippedSteps";
    private static final String LAST_CLIP = "kfac.lastClipFactor";
    private static final String LR = "kfac.lr";
    private static final String SETTINGS = "kfac.settings";
    private static final String BLOCK = "kfac.block.";
    private static final String RNG = "rng.";

    /**
     * The scalar state of a checkpoint of the earlier layout: flat {@code kfac.*} entries, each
     * layer's counters as {@code kfac.block.<layer>} = "updates,inversions,π", the generators as
     * {@code rng.<name>}.
     */
    private Saved legacy(Map<String, String> saved) {
        Map<String, BlockCounters> blocks = new LinkedHashMap<>();
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            String v = StateMetadata.Legacy.entry(saved, BLOCK + b.getName());
            String[] parts = v.split(",");
            if (parts.length != 3) {
                throw new IllegalArgumentException("checkpoint entry " + BLOCK + b.getName()
                        + " must be 'updates,inversions,pi', got '" + v + "'");
            }
            try {
                blocks.put(b.getName(), new BlockCounters(Long.parseLong(parts[0]),
                        Long.parseLong(parts[1]), Double.parseDouble(parts[2])));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("checkpoint entry " + BLOCK + b.getName()
                        + " is malformed: '" + v + "'", e);
            }
        }
        Counters counters = new Counters(StateMetadata.Legacy.longEntry(saved, STEPS),
                StateMetadata.Legacy.longEntry(saved, SKIPPED),
                StateMetadata.Legacy.longEntry(saved, CLIPPED),
                StateMetadata.Legacy.doubleEntry(saved, LAST_CLIP),
                StateMetadata.Legacy.doubleEntry(saved, LR), blocks);
        Map<String, Long> rngs = new LinkedHashMap<>();
        for (String name : kfac.rngs().keySet()) {
            if (saved.containsKey(RNG + name)) {
                rngs.put(name, StateMetadata.Legacy.longEntry(saved, RNG + name));
            }
        }
        return new Saved(counters, rngs, StateMetadata.Legacy.entry(saved, SETTINGS));
    }

    /** Sets the scalar state (after the tensors were restored). */
    private void restore(Saved s) {
        Counters c = s.counters();
        kfac.restoreCounts(c.stepCount(), c.skippedSteps(), c.lr());
        kfac.parameterStep().restoreStatistics(c.clippedSteps(), c.lastClipFactor());
        for (KroneckerFactoredBlock b : kfac.getBlocks()) {
            BlockCounters v = c.blocks().get(b.getName());
            b.restoreCounters(v.factorUpdates(), v.inversions(), v.pi());
        }
        CheckpointState.restoreGenerators(kfac.rngs(), s.rng());
        String now = kfac.getSettings().toString();
        if (!s.settings().equals(now)) {
            LOG.info("resuming K-FAC with other settings than the checkpoint's: now {}, saved {}",
                    now, s.settings());
        }
    }
}
