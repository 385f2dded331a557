package ai.fishleg.muon;

import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.core.CheckpointState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a {@link ai.fishleg.core.Checkpoint} saves of a {@link Muon} run: the model's parameters
 * ({@code model/<DJL name>}, running statistics included), Muon's momenta ({@code
 * muon/momentum/<name>}), AdamW's moments ({@code adamw/m|v/<name>}), and as metadata the step
 * count (AdamW's bias correction depends on it) and the settings.
 */
final class MuonState implements CheckpointState {

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
        Map<String, String> out = new LinkedHashMap<>();
        out.put(STEPS, Long.toString(muon.getStepCount()));
        out.put(SETTINGS, muon.getSettings().toString());
        return out;
    }

    @Override
    public Runnable restorer(Map<String, String> saved) {
        String v = saved.get(STEPS);
        if (v == null) {
            throw new IllegalArgumentException("the checkpoint has no entry " + STEPS
                    + "; it was not written by Muon.save");
        }
        long steps;
        try {
            steps = Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("checkpoint entry " + STEPS + " is not an integer: '" + v + "'", e);
        }
        return () -> muon.restoreSteps(steps);
    }
}
