package ai.fishleg.muon;

import ai.djl.nn.Parameter;
import java.util.List;
import java.util.Map;

/**
 * Which trainable parameters Muon orthogonalises and which AdamW updates.
 *
 * @param muon weight matrices (and convolution kernels) by DJL name, in model order
 * @param adamw every other trainable parameter (biases, norms, the layers left out), in model order
 */
public record ParameterSplit(Map<String, Parameter> muon, Map<String, Parameter> adamw) {

    /** @return the names of Muon's parameters */
    public List<String> muonNames() {
        return List.copyOf(muon.keySet());
    }

    /** @return the names of AdamW's parameters */
    public List<String> adamwNames() {
        return List.copyOf(adamw.keySet());
    }
}
