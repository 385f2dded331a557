package ai.fishleg.select;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which layers of a model FishLeg manages (docs/ALGORITHM.md §3): every layer of a {@linkplain
 * LayerRegistry supported type} that has trainable parameters, found at any depth of the block
 * tree ({@code SequentialBlock}, {@code ParallelBlock}, user {@code AbstractBlock}s with children),
 * optionally restricted by module names and skip names. Names are the dotted names of {@link
 * LayerSelection}.
 */
public final class ManagedLayers {

    private static final Logger LOG = LoggerFactory.getLogger(ManagedLayers.class);

    private ManagedLayers() {}

    /**
     * Where an optimizer of the model keeps its state: under the manager of the model's
     * parameters, which must all be initialised.
     *
     * @param model a model
     * @param optimizer the optimizer's name, for the messages
     * @return the manager of its first parameter
     * @throws IllegalArgumentException if a parameter is not initialised, or there is none
     */
    public static NDManager parameterManager(Block model, String optimizer) {
        Objects.requireNonNull(model, "model");
        NDManager first = null;
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (!p.getValue().isInitialized()) {
                throw new IllegalArgumentException(
                        "parameter " + p.getKey() + " of the model is not initialised: call"
                                + " model.initialize(manager, dataType, inputShape) before building "
                                + optimizer);
            }
            if (first == null) {
                first = p.getValue().getArray().getManager();
            }
        }
        if (first == null) {
            throw new IllegalArgumentException(
                    "the model has no parameters, so there is nothing for " + optimizer + " to optimise");
        }
        return first;
    }

    /**
     * A layer of a model that has trainable parameters, and the size of its curvature block.
     *
     * @param name the dotted name ({@code ""} for the root)
     * @param type the DJL block's simple class name
     * @param managed whether FishLeg manages it under the given selection
     * @param parameters number of trainable parameters of the layer itself (not of its children):
     *     the side of its block of Q
     * @param auxParameters number of auxiliary parameters λ of its block (0 when not managed)
     */
    public record LayerDescription(
            String name, String type, boolean managed, long parameters, long auxParameters) {}

    /**
     * Selects the layers FishLeg manages, in pre-order.
     *
     * <ul>
     *   <li>{@code moduleNames} empty, or first entry {@code "re:*"}: every supported layer;
     *   <li>otherwise the top-most blocks matching an entry (a name, or a {@code re:} regex
     *       matched against a prefix of the name); a selected container stands for the
     *       supported layers inside it; a selected block of an unsupported type that has
     *       parameters itself is an error naming it, as is a selected supported layer whose
     *       parameters are all frozen;
     *   <li>blocks without trainable parameters are ignored, layers inside a managed layer are
     *       not managed again, and names containing a {@code skipNames} entry are skipped.
     * </ul>
     *
     * @param model the model
     * @param moduleNames names or {@code re:} regexes
     * @param strict every entry must select something (else an error naming it)
     * @param skipNames substrings of names to leave out
     * @return the managed layers
     * @throws IllegalArgumentException naming the entry or the layer that is wrong
     */
    public static List<NamedLayer> select(
            Block model, List<String> moduleNames, boolean strict, List<String> skipNames) {
        List<NamedLayer> all = LayerSelection.namedLayers(model);
        boolean selectAll = moduleNames.isEmpty() || "re:*".equals(moduleNames.get(0));
        List<NamedLayer> candidates;
        if (selectAll) {
            candidates = all;
        } else {
            candidates = new ArrayList<>();
            for (NamedLayer selected : LayerSelection.select(all, moduleNames, strict)) {
                String name = LayerSelection.displayName(selected.layerName());
                Block layer = selected.layer();
                if (LayerRegistry.factoryFor(layer) != null) {
                    if (!hasTrainableParameters(layer)) {
                        throw new IllegalArgumentException(
                                "layer " + name + " (" + layer.getClass().getSimpleName()
                                        + ") was selected by moduleNames but none of its"
                                        + " parameters is trainable; unfreeze it or do not"
                                        + " select it");
                    }
                    candidates.add(selected);
                } else if (!layer.getDirectParameters().isEmpty()) {
                    throw new IllegalArgumentException(
                            "layer " + name + " was selected by moduleNames but its type "
                                    + layer.getClass().getSimpleName()
                                    + " is not supported by FishLeg (supported: "
                                    + LayerRegistry.supportedTypes() + ")");
                } else {
                    // A selected container stands for the supported layers inside it.
                    for (NamedLayer n : all) {
                        if (LayerSelection.isDescendant(selected.layerName(), n.layerName())) {
                            candidates.add(n);
                        }
                    }
                }
            }
        }
        List<NamedLayer> managed = new ArrayList<>();
        for (NamedLayer c : candidates) {
            String name = c.layerName();
            if (LayerRegistry.factoryFor(c.layer()) == null || !hasTrainableParameters(c.layer())) {
                continue;
            }
            if (managed.stream().anyMatch(m -> LayerSelection.isDescendant(m.layerName(), name))) {
                continue;
            }
            if (skipNames.stream().anyMatch(name::contains)) {
                LOG.debug("FishLeg skips {} (skipNames)", LayerSelection.displayName(name));
                continue;
            }
            managed.add(c);
        }
        return managed;
    }

    /**
     * Lists every layer of a model that has trainable parameters of its own, in pre-order, with
     * whether FishLeg would manage it and the sizes of its block of Q (for a command-line
     * listing, or to check a selection before building the optimizer). Building each block to
     * measure it allocates its λ briefly.
     *
     * @param model the model (initialised)
     * @param moduleNames as for {@link #select} (empty: all)
     * @param skipNames as for {@link #select}
     * @return one description per layer with trainable parameters
     */
    public static List<LayerDescription> describe(
            Block model, List<String> moduleNames, List<String> skipNames) {
        List<NamedLayer> managed = select(model, moduleNames, false, skipNames);
        List<LayerDescription> out = new ArrayList<>();
        for (NamedLayer n : LayerSelection.namedLayers(model)) {
            long params = 0;
            NDManager paramManager = null;
            for (Pair<String, Parameter> p : n.layer().getDirectParameters()) {
                if (p.getValue().requiresGradient() && p.getValue().isInitialized()) {
                    params += p.getValue().getArray().size();
                    paramManager = p.getValue().getArray().getManager();
                }
            }
            if (params == 0) {
                continue;
            }
            boolean isManaged = managed.stream().anyMatch(m -> m.layer() == n.layer());
            long aux = 0;
            if (isManaged) {
                try (NDManager scratch = paramManager.newSubManager();
                        CurvatureBlock block =
                                LayerRegistry.factoryFor(n.layer())
                                        .create(n.layerName(), n.layer(), scratch,
                                                CurvatureOptions.DEFAULT)) {
                    params = block.parameterSize();
                    aux = block.auxSize();
                }
            }
            out.add(new LayerDescription(
                    n.layerName(), n.layer().getClass().getSimpleName(), isManaged, params, aux));
        }
        return out;
    }

    /**
     * @param layer a block
     * @return whether one of its own (direct) parameters requires gradients
     */
    public static boolean hasTrainableParameters(Block layer) {
        for (Pair<String, Parameter> p : layer.getDirectParameters()) {
            if (p.getValue().requiresGradient()) {
                return true;
            }
        }
        return false;
    }
}
