package ai.fishleg.muon;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which weight matrices Muon updates; every other trainable parameter goes to AdamW. A weight
 * matrix is a trainable parameter of two or more axes (a Linear weight, a convolution kernel,
 * flattened to out × in·k·k); biases and normalisation scales never qualify.
 */
public final class MuonLayers {

    /** What to choose. */
    private enum Rule { HIDDEN, ALL, NAMED }

    private final Rule rule;
    private final Set<String> names;

    private MuonLayers(Rule rule, Set<String> names) {
        this.rule = rule;
        this.names = names;
    }

    /**
     * The published recipe: the weight matrices of the hidden layers, that is every one but the
     * first and the last in model order (the input and output layers go to AdamW).
     *
     * @return the choice
     */
    public static MuonLayers hidden() {
        return new MuonLayers(Rule.HIDDEN, Set.of());
    }

    /** @return every weight matrix, the first and last layers' included */
    public static MuonLayers all() {
        return new MuonLayers(Rule.ALL, Set.of());
    }

    /**
     * @param parameterNames DJL names of weight matrices (as {@code model.getParameters()} lists them)
     * @return exactly these
     */
    public static MuonLayers named(String... parameterNames) {
        if (parameterNames.length == 0) {
            throw new IllegalArgumentException("MuonLayers.named needs at least one parameter name");
        }
        return new MuonLayers(Rule.NAMED, new LinkedHashSet<>(List.of(parameterNames)));
    }

    /**
     * @param model an initialised model
     * @return its trainable parameters, split
     * @throws IllegalArgumentException if a named parameter is not a weight matrix of the model
     *     (the message lists those that are)
     */
    public ParameterSplit split(Block model) {
        List<Pair<String, Parameter>> matrices = new ArrayList<>();
        List<Pair<String, Parameter>> trainable = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient()) {
                trainable.add(p);
                if (p.getValue().getArray().getShape().dimension() >= 2) {
                    matrices.add(p);
                }
            }
        }
        Set<String> chosen = new LinkedHashSet<>();
        switch (rule) {
            case ALL -> matrices.forEach(p -> chosen.add(p.getKey()));
            case HIDDEN -> {
                for (int i = 1; i < matrices.size() - 1; i++) {
                    chosen.add(matrices.get(i).getKey());
                }
            }
            case NAMED -> {
                List<String> known = matrices.stream().map(Pair::getKey).toList();
                for (String n : names) {
                    if (!known.contains(n)) {
                        throw new IllegalArgumentException("Muon: '" + n + "' is not a weight matrix"
                                + " of this model; its weight matrices are " + known);
                    }
                }
                chosen.addAll(names);
            }
            default -> throw new AssertionError(rule);
        }
        Map<String, Parameter> muon = new LinkedHashMap<>();
        Map<String, Parameter> adamw = new LinkedHashMap<>();
        for (Pair<String, Parameter> p : trainable) {
            (chosen.contains(p.getKey()) ? muon : adamw).put(p.getKey(), p.getValue());
        }
        return new ParameterSplit(muon, adamw);
    }

    @Override
    public String toString() {
        return rule == Rule.NAMED ? "named" + names : rule.name().toLowerCase(java.util.Locale.ROOT);
    }
}
