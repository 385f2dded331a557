package ai.fishleg.muon;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import ai.fishleg.core.StateMetadata;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a {@link ai.fishleg.core.Checkpoint} saves of a {@link Muon} run: the model's parameters
 * ({@code model/<DJL name>}, running statistics included), Muon's momenta ({@code
 * muon/momentum/<name>}), AdamW's moments ({@code adamw/m|v/<name>}), and as metadata (the entry
 * {@code muon}, a JSON object of {@link Saved}, see {@link StateMetadata}) the step count and the
 * settings. Checkpoints of the earlier layout ({@code muon.stepCount}, {@code muon.settings}) are
 * read too.
 */
final class MuonState implements CheckpointState {

    /** The name of Muon's entry in a checkpoint's metadata. */
    static final String NAME = "muon";

    /**
     * The scalar state as saved ({@link StateMetadata}, entry {@value #NAME}).
     *
     * @param stepCount completed steps (AdamW's bias correction depends on it)
     * @param settings the settings of the run that saved it
     */
    record Saved(long stepCount, String settings) {}

    /** The flat entries of the earlier layout. */
    private static final String STEPS = "muon.stepCount";
    private static final String SETTINGS = "muon.settings";

    private final Muon muon;

    MuonState(Muon muon) {
        this.muon = muon;
    }

    @Override
    public List<Entry> tensors() {
        List<Entry> out = new ArrayList<>();
        for (Pair<String, Parameter> p : muon.getModel().getParameters()) {
            out.add(new Entry("model/" + p.getKey(), p.getValue().getArray()));
        }
        muon.stateTensors().forEach((name, array) -> out.add(new Entry(name, array)));
        return out;
    }

    @Override
    public Map<String, String> metadata() {
        return StateMetadata.write(NAME, new Saved(muon.getStepCount(),
                muon.getSettings().toString()));
    }

    @Override
    public Runnable restorer(Map<String, String> saved) {
        Saved s = StateMetadata.read(saved, NAME, Saved.class).orElseGet(() -> new Saved(
                StateMetadata.Legacy.longEntry(saved, STEPS),
                StateMetadata.Legacy.entry(saved, SETTINGS)));
        return () -> muon.restoreSteps(s.stepCount());
    }
}
