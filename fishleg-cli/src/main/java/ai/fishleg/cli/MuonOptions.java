package ai.fishleg.cli;

import ai.fishleg.muon.MuonLayers;
import ai.fishleg.muon.StepScale;
import ai.fishleg.tasks.MuonSettings;
import picocli.CommandLine.Option;

/** Muon's settings on the command line; each one left out keeps the task's preset. */
final class MuonOptions {

    @Option(names = "--muon-lr", paramLabel = "LR", description = "Muon: learning rate of the orthogonalised step.")
    Double lr;

    @Option(names = "--muon-momentum", paramLabel = "B", description = "Muon: β of the (Nesterov) momentum.")
    Double momentum;

    @Option(names = "--muon-ns-steps", paramLabel = "N", description = "Muon: Newton-Schulz iterations.")
    Integer nsSteps;

    @Option(names = "--muon-scale", paramLabel = "S",
            description = "Muon: the update's scale per matrix: ${COMPLETION-CANDIDATES} (original:"
                    + " √max(1, rows/cols); match_adamw: 0.2·√max(rows, cols)).")
    StepScale stepScale;

    @Option(names = "--muon-layers", paramLabel = "L",
            description = "Muon: which weight matrices it updates: hidden (all but the first and last),"
                    + " all, or a comma-separated list of parameter names (see fishleg layers); the rest get AdamW.")
    String layers;

    @Option(names = "--muon-adam-lr", paramLabel = "LR", description = "Muon: AdamW's learning rate for the other parameters.")
    Double adamLr;

    @Option(names = "--muon-weight-decay", paramLabel = "WD", description = "Muon: decoupled weight decay of both parts.")
    Double weightDecay;

    /**
     * @param preset the task's Muon preset
     * @return the preset with the options given on the command line
     */
    MuonSettings apply(MuonSettings preset) {
        return new MuonSettings(
                lr != null ? lr : preset.lr(),
                momentum != null ? momentum : preset.momentum(),
                nsSteps != null ? nsSteps : preset.nsSteps(),
                stepScale != null ? stepScale : preset.stepScale(),
                layers != null ? layers(layers) : preset.layers(),
                adamLr != null ? adamLr : preset.adamLr(),
                weightDecay != null ? weightDecay : preset.weightDecay());
    }

    private static MuonLayers layers(String value) {
        return switch (value.trim()) {
            case "hidden" -> MuonLayers.hidden();
            case "all" -> MuonLayers.all();
            default -> MuonLayers.named(value.trim().split("\\s*,\\s*"));
        };
    }
}
