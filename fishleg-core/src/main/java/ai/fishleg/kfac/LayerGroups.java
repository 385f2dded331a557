package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.util.Pair;
import ai.fishleg.core.ParameterStep;
import ai.fishleg.curvature.LayerRecords;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.select.NamedLayer;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which parameters K-FAC preconditions and how they are grouped: the layers FishLeg would manage
 * (same discovery and names), each with a {@link LinearBlock} or {@link Conv2dBlock} when it is a
 * recording layer K-FAC can factor, and every other trainable parameter in a group of its own
 * that takes momentum SGD. Built once, at construction; the log says which layer gets what.
 */
final class LayerGroups {

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    /** The groups, in model order (K-FAC layers and momentum-SGD layers, then loose parameters). */
    final List<Group> list = new ArrayList<>();
    /** Every trainable parameter of the model. */
    final List<NDArray> trainable = new ArrayList<>();

    /**
     * The parameters stepped together: one K-FAC layer, or parameters taking momentum SGD. Its
     * index in the list is its group in Kfac's {@link ai.fishleg.core.ParameterStep}.
     */
    static final class Group {
        final String name;
        /** Null for momentum SGD. */
        final KroneckerFactoredBlock block;
        final List<NDArray> params;
        final List<String> paramNames;

        Group(String name, KroneckerFactoredBlock block, List<NDArray> params,
                List<String> paramNames) {
            this.name = name;
            this.block = block;
            this.params = params;
            this.paramNames = paramNames;
        }
    }

    /** K-FAC's own groups, announcing the layers that get no block (see the next constructor). */
    LayerGroups(Block model, List<String> moduleNames, List<String> skipNames, NDManager manager) {
        this(model, moduleNames, skipNames, manager, true);
    }

    /**
     * @param model the network, initialised
     * @param moduleNames layers to consider (empty: all)
     * @param skipNames layers to leave to momentum SGD
     * @param manager owner of the blocks' state
     * @param announce log which layers get no block (K-FAC itself); false logs it at DEBUG only
     *     ({@link KroneckerEstimate}, whose caller says what it covers)
     * @throws IllegalArgumentException if no layer gets a K-FAC block
     */
    LayerGroups(Block model, List<String> moduleNames, List<String> skipNames, NDManager manager,
            boolean announce) {
        Set<NDArray> assigned = Collections.newSetFromMap(new IdentityHashMap<>());
        for (NamedLayer nl : ManagedLayers.select(
                model, moduleNames, false, skipNames)) {
            String display = LayerSelection.displayName(nl.layerName());
            Block layer = nl.layer();
            List<NDArray> params = new ArrayList<>();
            List<String> names = new ArrayList<>();
            boolean allTrainable = true;
            for (Pair<String, Parameter> p : layer.getDirectParameters()) {
                if (p.getValue().requiresGradient()) {
                    params.add(p.getValue().getArray());
                    names.add(p.getKey());
                } else {
                    allTrainable = false;
                }
            }
            String why = allTrainable ? ineligible(layer) : "some of its parameters are frozen";
            KroneckerFactoredBlock block = null;
            if (why == null) {
                block = layer instanceof Conv2d c ? new Conv2dBlock(nl.layerName(), c, manager)
                        : new LinearBlock(nl.layerName(), (Linear) layer, manager);
                params = block.getParameterArrays();
                names = block.getParameterNames();
                LOG.debug("K-FAC preconditions {} with {}", display, block);
            } else {
                // a plain Linear or Conv2d is most likely an oversight: say so louder
                String msg = "K-FAC gives {} ({}) a momentum-SGD step: {}";
                if (!announce) {
                    LOG.debug(msg, display, layer.getClass().getSimpleName(), why);
                } else if (layer instanceof Linear || layer instanceof Conv2d) {
                    LOG.warn(msg, display, layer.getClass().getSimpleName(), why);
                } else {
                    LOG.info(msg, display, layer.getClass().getSimpleName(), why);
                }
            }
            assigned.addAll(params);
            list.add(new Group(nl.layerName(), block, params, names));
        }
        if (list.stream().noneMatch(g -> g.block != null)) {
            throw new IllegalArgumentException(
                    "Kfac found no layer to precondition: it needs RecordingLinear or"
                            + " RecordingConv2d layers (build them with RecordingLinear.builder()"
                            + " / RecordingConv2d.builder() where the model uses Linear / Conv2d);"
                            + " layers considered: " + list.stream().map(g -> g.name).toList()
                            + " (moduleNames " + moduleNames + ", skipNames "
                            + skipNames + ")");
        }
        List<String> unmanaged = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            Parameter param = p.getValue();
            if (!param.requiresGradient()) {
                continue;
            }
            trainable.add(param.getArray());
            if (!assigned.contains(param.getArray())) {
                list.add(new Group(p.getKey(), null, List.of(param.getArray()),
                        List.of(p.getKey())));
                unmanaged.add(p.getKey());
            }
        }
        if (!unmanaged.isEmpty() && announce) {
            LOG.info("K-FAC gives these parameters of layers it has no block for a momentum-SGD"
                    + " step: {}", unmanaged);
        }
    }

    /** @return the K-FAC blocks, in model order */
    List<KroneckerFactoredBlock> blocks() {
        List<KroneckerFactoredBlock> out = new ArrayList<>();
        for (Group g : list) {
            if (g.block != null) {
                out.add(g.block);
            }
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * @param name a layer's dotted name
     * @return its K-FAC block
     * @throws IllegalArgumentException if the layer has none
     */
    KroneckerFactoredBlock block(String name) {
        for (Group g : list) {
            if (g.block != null && g.name.equals(name)) {
                return g.block;
            }
        }
        throw new IllegalArgumentException("K-FAC has no block for a layer named '" + name
                + "'; blocks: " + blocks().stream().map(KroneckerFactoredBlock::getName).toList());
    }

    /** @return the names of the groups that take a momentum-SGD step */
    List<String> sgdGroups() {
        List<String> out = new ArrayList<>();
        for (Group g : list) {
            if (g.block == null) {
                out.add(g.name);
            }
        }
        return out;
    }

    /**
     * Every tensor of the optimizer's state by name: {@code kfac/<layer>/A|G|Ainv|Ginv} and
     * {@code momentum/<group>/<param>} (the root layer is called {@code <root>}). The model's own
     * parameters are not included.
     *
     * @param parameterStep the step holding the momenta
     * @return live arrays, in a fixed order
     */
    Map<String, NDArray> stateTensors(ParameterStep parameterStep) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (Group g : list) {
            String key = g.name.isEmpty() ? "<root>" : g.name;
            if (g.block != null) {
                out.put("kfac/" + key + "/A", g.block.getInputFactor());
                out.put("kfac/" + key + "/G", g.block.getOutputFactor());
                out.put("kfac/" + key + "/Ainv", g.block.getInputInverse());
                out.put("kfac/" + key + "/Ginv", g.block.getOutputInverse());
                g.block.getEigenScale().ifPresent(s -> out.put("kfac/" + key + "/scale", s));
            }
            NDList momentum = parameterStep.momentum(list.indexOf(g));
            for (int i = 0; i < g.params.size(); i++) {
                out.put("momentum/" + key + "/" + g.paramNames.get(i), momentum.get(i));
            }
        }
        return out;
    }

    /** Records every pass of every K-FAC layer from now on. */
    void startRecording() {
        for (Group g : list) {
            if (g.block != null) {
                LayerRecords.startRecording(g.block.getLayer());
            }
        }
    }

    /** Stops the recording of every K-FAC layer and forgets its records. */
    void stopRecording() {
        for (Group g : list) {
            if (g.block != null) {
                LayerRecords.stopRecording(g.block.getLayer());
                LayerRecords.clear(g.block.getLayer());
            }
        }
    }

    void clearRecords() {
        for (Group g : list) {
            if (g.block != null) {
                LayerRecords.clear(g.block.getLayer());
            }
        }
    }

    /** The gradient of every parameter, per group (live views owned by the scope). */
    NDList[] currentGradients(Scope scope) {
        NDList[] out = new NDList[list.size()];
        for (int gi = 0; gi < list.size(); gi++) {
            NDList grads = new NDList();
            for (NDArray p : list.get(gi).params) {
                grads.add(scope.own(p.getGradient()));
            }
            out[gi] = grads;
        }
        return out;
    }

    /** @return why a selected layer gets no K-FAC block, or null when it gets one */
    private static String ineligible(Block layer) {
        if (layer instanceof Linear) {
            return LayerRecords.canRecord(layer) ? null
                    : "it is a plain Linear; build it with RecordingLinear.builder() so that K-FAC"
                            + " sees its inputs and output gradients";
        }
        if (layer instanceof Conv2d c) {
            if (!LayerRecords.canRecord(layer)) {
                return "it is a plain Conv2d; build it with RecordingConv2d.builder() so that"
                        + " K-FAC sees its inputs and output gradients";
            }
            return c.getGroups() == 1 ? null : "grouped convolutions have no K-FAC block";
        }
        return "K-FAC has no Kronecker-factored block for this layer type";
    }

}
