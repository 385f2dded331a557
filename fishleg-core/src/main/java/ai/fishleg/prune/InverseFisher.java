package ai.fishleg.prune;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The inverse Fisher a {@link Pruner} ranks and compensates with, one Kronecker-factored block per
 * prunable layer ({@link KroneckerInverse}), copied in float64 when it is made (later changes of
 * the optimizer do not reach it). Three sources: FishLeg's learned Q(λ) ≈ (F + γI)⁻¹, K-FAC's
 * damped inverse, and the identity (magnitude pruning).
 */
public final class InverseFisher implements AutoCloseable {

    private final NDManager manager;
    private final List<PrunableLayer> layers;
    private final Map<String, KroneckerInverse> blocks;
    private final String source;

    private InverseFisher(NDManager manager, List<PrunableLayer> layers,
            Map<String, KroneckerInverse> blocks, String source) {
        this.manager = manager;
        this.layers = List.copyOf(layers);
        this.blocks = blocks;
        this.source = source;
    }

    /**
     * FishLeg's Q(λ) for every layer whose block is Kronecker-factored ({@link
     * PrunableLayer#of(FishLeg)}); other layers are not pruned.
     *
     * @param fishLeg the optimizer, with its learned λ
     * @param parent manager under which the copies live
     * @return the inverse
     * @throws IllegalArgumentException if FishLeg manages no Kronecker-factored layer
     */
    public static InverseFisher of(FishLeg fishLeg, NDManager parent) {
        NDManager manager = parent.newSubManager();
        List<PrunableLayer> layers = new ArrayList<>();
        Map<String, KroneckerInverse> blocks = new LinkedHashMap<>();
        for (CurvatureBlock block : fishLeg.getBlocks()) {
            if (block instanceof KroneckerBlock k) {
                NDList mn = k.copyOfFactors(manager);
                NDArray scale = k.usesA() ? k.getA().toType(DataType.FLOAT64, true)
                        : manager.zeros(new Shape(0), DataType.FLOAT64);
                scale.attach(manager);
                layers.add(new PrunableLayer(k.getName(), k.getParameterArrays()));
                blocks.put(k.getName(), new KroneckerInverse(mn.get(0), mn.get(1), scale));
            }
        }
        return checked(new InverseFisher(manager, layers, blocks, "FishLeg's Q"));
    }

    /**
     * K-FAC's damped inverse for the given layers ({@link KroneckerEstimate#dampedInverses}).
     *
     * @param layers the layers to prune
     * @param inverses the damped inverse factors by layer name (every layer's must be there)
     * @param parent manager under which the copies live
     * @return the inverse
     * @throws IllegalArgumentException if a layer has no inverse or one of another shape
     */
    public static InverseFisher of(List<PrunableLayer> layers,
            Map<String, Inverses> inverses, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Map<String, KroneckerInverse> blocks = new LinkedHashMap<>();
        try {
            for (PrunableLayer layer : layers) {
                Inverses inv = inverses.get(layer.name());
                if (inv == null) {
                    throw new IllegalArgumentException("no K-FAC inverse for layer " + layer.name()
                            + "; the estimate has " + inverses.keySet());
                }
                NDArray m = inv.output().toType(DataType.FLOAT64, true);
                NDArray n = inv.input().toType(DataType.FLOAT64, true);
                m.attach(manager);
                n.attach(manager);
                if (m.getShape().get(0) != layer.rows() || n.getShape().get(0) != layer.cols()) {
                    throw new IllegalArgumentException("layer " + layer.name() + ": K-FAC's inverse"
                            + " factors have shapes " + m.getShape() + " and " + n.getShape()
                            + ", the layer's U is " + layer.rows() + " x " + layer.cols());
                }
                blocks.put(layer.name(), new KroneckerInverse(
                        m, n, manager.zeros(new Shape(0), DataType.FLOAT64)));
            }
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
        return checked(new InverseFisher(manager, layers, blocks, "K-FAC's damped inverse"));
    }

    /**
     * The identity: saliency w²/2 and no compensation, i.e. magnitude pruning.
     *
     * @param layers the layers to prune
     * @param parent manager under which it lives
     * @return the inverse
     */
    public static InverseFisher identity(List<PrunableLayer> layers, NDManager parent) {
        NDManager manager = parent.newSubManager();
        Map<String, KroneckerInverse> blocks = new LinkedHashMap<>();
        for (PrunableLayer layer : layers) {
            blocks.put(layer.name(), KroneckerInverse.identity(manager, layer.rows(), layer.cols()));
        }
        return checked(new InverseFisher(manager, layers, blocks, "the identity"));
    }

    private static InverseFisher checked(InverseFisher f) {
        if (f.layers.isEmpty()) {
            f.close();
            throw new IllegalArgumentException("nothing to prune: " + f.source + " covers no layer"
                    + " with a Kronecker-factored block (fully connected or convolution layers)");
        }
        return f;
    }

    /** @return the layers, in order */
    public List<PrunableLayer> layers() {
        return layers;
    }

    /** @return where the inverse came from (for messages) */
    public String source() {
        return source;
    }

    KroneckerInverse block(String layer) {
        return blocks.get(layer);
    }

    /**
     * The diagonal of the inverse for one layer, shaped as its U (out x k), in float64.
     *
     * @param layer the layer's name
     * @param target manager of the result
     * @return [F⁻¹]_qq for every entry q of U
     */
    public NDArray diagonal(String layer, NDManager target) {
        KroneckerInverse b = require(layer);
        try (Scope s = Scope.open(target)) {
            use(s, b);
            return Scope.keep(b.diagonal(), target);
        }
    }

    /**
     * The inverse applied to one layer's vector.
     *
     * @param layer the layer's name
     * @param x shaped as its U, float64
     * @return F⁻¹ x, shaped as U, in x's manager
     */
    public NDArray apply(String layer, NDArray x) {
        KroneckerInverse b = require(layer);
        NDManager target = x.getManager();
        try (Scope s = Scope.open(target)) {
            use(s, b);
            return Scope.keep(b.apply(x), target);
        }
    }

    static void use(Scope s, KroneckerInverse b) {
        s.use(b.out());
        s.use(b.in());
        s.use(b.scale());
    }

    private KroneckerInverse require(String layer) {
        KroneckerInverse b = blocks.get(layer);
        if (b == null) {
            throw new IllegalArgumentException("no layer named '" + layer + "' in " + source
                    + "; layers: " + blocks.keySet());
        }
        return b;
    }

    @Override
    public void close() {
        manager.close();
    }
}
