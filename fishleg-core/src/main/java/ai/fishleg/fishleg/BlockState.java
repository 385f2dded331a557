package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import ai.fishleg.fishleg.blocks.FactoredBlock;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers;
import ai.fishleg.select.NamedLayer;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * FishLeg's state for one curvature block (the reference's parameter group): the block, which
 * owns λ, and the stored gradient u that Q(λ) is trained to invert along, with its factors when
 * batchSpeedup recorded them. (Momentum and θ0 live in {@link ParameterStep}.) {@link #createAll}
 * builds the blocks of the layers FishLeg manages.
 */
final class BlockState {

    private static final Logger LOG = LoggerFactory.getLogger(BlockState.class);

    /** What a block's parameters belong to. */
    enum Owner {
        /** a managed layer of the model */
        LAYER,
        /** the likelihood's learnable parameters (not the model's) */
        LIKELIHOOD
    }

    private final CurvatureBlock block;
    private final Owner owner;
    /** The stored gradient u ("grad" in the reference), shaped like the parameters. */
    private final NDList u = new NDList();
    /** The factors of u (batchSpeedup with a recording layer), or null. */
    private FactoredBlock.GradientFactors uFactors;

    /**
     * @param block the curvature block
     * @param owner what its parameters belong to
     * @param manager owner of u
     */
    BlockState(CurvatureBlock block, Owner owner, NDManager manager) {
        this.block = block;
        this.owner = owner;
        for (NDArray p : block.getParameterArrays()) {
            NDArray zero = p.zerosLike();
            zero.attach(manager);
            u.add(zero);
        }
    }

    /**
     * Selects the layers to manage and creates their blocks (re-initialising linear weights if
     * asked), then the likelihood's block when it has learnable parameters.
     *
     * @param model the model
     * @param likelihood the likelihood, or null
     * @param hp the settings (selection, block options, initialisation, scale, verbosity)
     * @param rng draws normal initial weights
     * @param manager owns the blocks
     * @return the blocks, in parameter-group order (the likelihood's last)
     * @throws IllegalArgumentException if no layer can be managed
     */
    static List<BlockState> createAll(Block model, FishLikelihood likelihood, Hyperparameters hp,
            Rng rng, NDManager manager) {
        List<BlockState> out = new ArrayList<>();
        CurvatureOptions options = new CurvatureOptions(
                hp.full() ? CurvatureOptions.Rescaling.LEARNED : CurvatureOptions.Rescaling.FROZEN,
                hp.batchSpeedup() ? CurvatureOptions.Form.KRONECKER : CurvatureOptions.Form.RESCALED);
        for (NamedLayer layer : ManagedLayers.select(
                model, hp.moduleNames(), hp.strictModuleNames(), hp.skipNames())) {
            CurvatureBlock block = LayerRegistry.factoryFor(layer.layer())
                    .create(layer.layerName(), layer.layer(), manager, options);
            reinitialize(block, hp.initialization(), rng, manager);
            BlockState state = new BlockState(block, Owner.LAYER, manager);
            out.add(state);
            String msg = "FishLeg manages {} ({}, {} parameters)";
            if (hp.verbose()) {
                LOG.info(msg, state.displayName(), block, block.parameterSize());
            } else {
                LOG.debug(msg, state.displayName(), block, block.parameterSize());
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(
                    "FishLeg found no layer it can manage in the model (supported types: "
                            + LayerRegistry.supportedTypes() + "; moduleNames "
                            + hp.moduleNames() + ", skipNames " + hp.skipNames()
                            + "; layers in the model: " + layerTypes(model) + ")");
        }
        if (likelihood != null && !likelihood.getParameters().isEmpty()) {
            out.add(new BlockState(likelihood.createCurvatureBlock(manager, hp.scale()),
                    Owner.LIKELIHOOD, manager));
        }
        return out;
    }

    /**
     * @param model the model
     * @param blocks the managed blocks
     * @return DJL names of the model's trainable parameters that no block manages
     */
    static List<String> unmanaged(Block model, List<BlockState> blocks) {
        Set<NDArray> managed = Collections.newSetFromMap(new IdentityHashMap<>());
        for (BlockState g : blocks) {
            managed.addAll(g.block().getParameterArrays());
        }
        List<String> out = new ArrayList<>();
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient() && !managed.contains(p.getValue().getArray())) {
                out.add(p.getKey());
            }
        }
        return List.copyOf(out);
    }

    private static String layerTypes(Block model) {
        List<String> out = new ArrayList<>();
        for (NamedLayer n : LayerSelection.namedLayers(model)) {
            if (!n.layer().getDirectParameters().isEmpty()) {
                out.add(LayerSelection.displayName(n.layerName()) + ":"
                        + n.layer().getClass().getSimpleName());
            }
        }
        return out.toString();
    }

    /** @return what the block's parameters belong to */
    Owner owner() {
        return owner;
    }

    /** @return the curvature block */
    CurvatureBlock block() {
        return block;
    }

    /** @return the stored gradient u (live) */
    NDList u() {
        return u;
    }

    /** @return the factors of u, or null */
    FactoredBlock.GradientFactors uFactors() {
        return uFactors;
    }

    /**
     * u ← a gradient, with its factors when known.
     *
     * @param gradient one array per parameter
     * @param factors its factors, or null; moved to {@code manager}
     * @param manager the optimizer's manager
     */
    void store(NDList gradient, FactoredBlock.GradientFactors factors, NDManager manager) {
        for (int i = 0; i < u.size(); i++) {
            Tensors.assign(u.get(i), gradient.get(i));
        }
        forgetFactors();
        if (factors != null) {
            uFactors = factors;
            uFactors.attach(manager);
        }
    }

    /**
     * u ← the gradient of every block, with its factors where known.
     *
     * @param blocks the blocks
     * @param gradients one list per block
     * @param factors one entry per block, null where there are none
     * @param manager the optimizer's manager (takes the factors)
     */
    static void storeAll(List<BlockState> blocks, NDList[] gradients,
            FactoredBlock.GradientFactors[] factors, NDManager manager) {
        for (int gi = 0; gi < blocks.size(); gi++) {
            blocks.get(gi).store(gradients[gi], factors[gi], manager);
        }
    }

    /** Drops the factors of u (u was or will be written some other way). */
    void forgetFactors() {
        if (uFactors != null) {
            uFactors.close();
            uFactors = null;
        }
    }

    /** @return the layer's name as shown to users */
    String displayName() {
        return LayerSelection.displayName(block.getName());
    }

    /** @return the name under which the block's state is saved ({@code <root>} for the root) */
    String key() {
        return block.getName().isEmpty() ? "<root>" : block.getName();
    }

    /**
     * Re-initialises the weights of a linear block (other blocks are left as they are): N(0,
     * 1/in) for the weight with {@code NORMAL}, zero weight and bias with {@code ZERO}.
     *
     * @param block a newly created block
     * @param init the scheme; {@code UNIFORM} keeps the layer's values
     * @param rng draws the normal values
     * @param manager owns the temporaries
     */
    private static void reinitialize(CurvatureBlock block, Initialization init, Rng rng, NDManager manager) {
        int fanIn = block.linearFanIn();
        if (fanIn == 0 || init == Initialization.UNIFORM) {
            return;
        }
        List<NDArray> params = block.getParameterArrays();
        NDArray w = params.get(0);
        if (init == Initialization.ZERO) {
            for (NDArray p : params) {
                Tensors.zero(p);
            }
        } else {
            double std = 1.0 / Math.sqrt(fanIn);
            double[] z = rng.gaussians(Math.toIntExact(w.size()));
            for (int i = 0; i < z.length; i++) {
                z[i] *= std;
            }
            try (NDArray values = Tensors.create(manager, z, w.getShape(), w.getDataType())) {
                Tensors.assign(w, values);
            }
        }
    }
}
