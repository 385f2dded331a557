package ai.fishleg.cli;

import ai.djl.nn.Block;
import ai.fishleg.muon.Muon;
import ai.fishleg.tasks.MuonSettings;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** Muon in the training loop. */
final class MuonRule extends CurvatureRule<Muon> {

    /**
     * @param model the initialised network
     * @param settings the settings
     */
    MuonRule(Block model, MuonSettings settings) {
        super(settings.configure(Muon.builder()).build(model));
    }

    /** The settings in force, as the library names them (its defaults included). */
    @Override
    public Map<String, Object> hyperparameters() {
        Muon.Settings s = optimizer.getSettings();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("lr", s.lr());
        out.put("momentum", s.momentum());
        out.put("momentumForm", s.momentumForm().name().toLowerCase(Locale.ROOT));
        out.put("nsSteps", s.nsSteps());
        out.put("stepScale", s.stepScale().name().toLowerCase(Locale.ROOT));
        out.put("weightDecay", s.weightDecay());
        out.put("layers", s.layers().toString());
        out.put("adamLr", s.adamLr());
        out.put("adamBeta1", s.adamBeta1());
        out.put("adamBeta2", s.adamBeta2());
        out.put("adamEps", s.adamEps());
        out.put("adamWeightDecay", s.adamWeightDecay());
        return out;
    }

    /** Which parameters Muon and AdamW update. */
    @Override
    void moreStatistics(Map<String, Object> out) {
        out.put("muonParameters", optimizer.getSplit().muonNames());
        out.put("adamwParameters", optimizer.getSplit().adamwNames());
    }
}
