package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.curvature.Inverses;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.KroneckerBlock;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * How close FishLeg's learned Q(λ) is to the damped inverse it learns (issue 22, goal 3): on
 * held-out directions v, the relative error ‖Q(F̂ + γI)v − v‖ / ‖v‖, with F̂ the estimate the
 * auxiliary loss uses ({@link Estimator}) on a fixed held-out batch, labels drawn from the model
 * with a fixed seed; beside it the same error with K-FAC's factored damped inverse at the same
 * point (the Q a Kronecker start would set now, its statistics from one pass over the held-out
 * batch with labels drawn from the model). 0 means Q is the exact inverse of F̂ + γI along v; 1 is what Q = 0 gives.
 *
 * <p>Two kinds of directions ({@link ProbeDirections}): Gaussian ones, the same at every
 * measurement, which mostly probe where F̂ is noise or zero; and the gradients of the training nll
 * on held-out batches with their observed labels, at the current parameters, which are what
 * FishLeg's step applies Q to. The gradient batches are either given ({@link
 * FishLeg#qualityProbe(LabeledBatch, List, int, long)}) or F̂'s own batch split into equal parts.
 *
 * <p>A measurement changes nothing of the optimizer or the model: λ, the parameters, their
 * gradients, the running statistics and every random generator are as they were after it, so a
 * run with probes takes the same steps as one without. {@link FishLeg#qualityProbe} makes one.
 */
public final class QualityProbe {

    /**
     * One measurement.
     *
     * @param step the optimizer's completed steps
     * @param auxUpdates the auxiliary updates taken so far
     * @param learned mean over the directions of ‖Q(λ)(F̂ + γI)v − v‖ / ‖v‖
     * @param kfac the same with K-FAC's damped inverse in the Kronecker blocks (other blocks keep
     *     Q(λ))
     * @param directions the number of directions v
     */
    public record Report(long step, long auxUpdates, double learned, double kfac, int directions) {}

    private final FishLegParts p;
    private final LabeledBatch heldOut;
    /** The batches whose gradients are the {@link ProbeDirections#GRADIENT} directions. */
    private final List<LabeledBatch> gradientBatches;
    private final int directions;
    private final long seed;

    /**
     * @param parts the parts of the optimizer whose Q is probed
     * @param heldOut the fixed batch F̂ is estimated on (the caller keeps it open while probing)
     * @param gradientBatches the batches whose gradients are the {@link ProbeDirections#GRADIENT}
     *     directions ({@link #split} makes them from {@code heldOut})
     * @param directions the number of Gaussian directions v, >= 1
     * @param seed seed of the Gaussian directions and of the labels drawn for F̂
     */
    QualityProbe(FishLegParts parts, LabeledBatch heldOut, List<LabeledBatch> gradientBatches,
            int directions, long seed) {
        requireDirections(directions);
        this.p = parts;
        this.heldOut = heldOut;
        this.gradientBatches = gradientBatches;
        this.directions = directions;
        this.seed = seed;
    }

    /**
     * @param kind the directions: this probe's Gaussian ones (the same at every call), or the
     *     gradients of its held-out batches at the current parameters
     * @return the errors along them
     */
    public Report measure(ProbeDirections kind) {
        return switch (kind) {
            case GAUSSIAN -> measure(this::gaussians);
            case GRADIENT -> measure(this::gradients);
        };
    }

    /**
     * @param vs the directions: per direction, one vector per managed block (in {@link
     *     FishLeg#getBlocks()} order), shaped like the block's parameters
     * @return the errors along them
     */
    public Report measure(List<List<NDList>> vs) {
        return measure(scope -> vs);
    }

    /** The Gaussian directions, from {@link #seed}. */
    private List<List<NDList>> gaussians(Scope scope) {
        Rng rng = new Rng(seed);
        List<List<NDList>> vs = new ArrayList<>(directions);
        for (int d = 0; d < directions; d++) {
            List<NDList> v = new ArrayList<>(p.blocks.size());
            for (BlockState g : p.blocks) {
                NDList x = new NDList();
                for (NDArray param : g.block().getParameterArrays()) {
                    x.add(Tensors.create(scope.manager(),
                            rng.gaussians(Math.toIntExact(param.size())), param.getShape(),
                            param.getDataType()));
                }
                v.add(x);
            }
            vs.add(v);
        }
        return vs;
    }

    /**
     * The gradients of the training nll on the gradient batches with their observed labels
     * (inside the measurement's isolation: the model's gradients and running statistics are
     * restored after it).
     */
    private List<List<NDList>> gradients(Scope scope) {
        List<List<NDList>> vs = new ArrayList<>();
        for (LabeledBatch batch : gradientBatches) {
            vs.add(p.passes.sampledGradients(batch, p.blocks, scope));
        }
        return vs;
    }

    /**
     * A probe whose gradient directions are {@code heldOut}'s own examples, split into {@code
     * directions} parts ({@link #split}).
     */
    static QualityProbe splitting(FishLegParts parts, LabeledBatch heldOut, int directions,
            long seed) {
        requireDirections(directions);
        return new QualityProbe(parts, heldOut, split(heldOut, directions), directions, seed);
    }

    private static void requireDirections(int directions) {
        if (directions < 1) {
            throw new IllegalArgumentException(
                    "the quality probe needs at least 1 direction, got " + directions);
        }
    }

    /**
     * @param heldOut a batch
     * @param parts the number of parts, >= 1 (checked by the caller)
     * @return the batch cut into {@code parts} consecutive parts of equal size (the last takes the
     *     remainder), views of its arrays
     */
    static List<LabeledBatch> split(LabeledBatch heldOut, int parts) {
        long n = heldOut.size();
        if (n < parts) {
            throw new IllegalArgumentException("the quality probe splits its held-out batch of "
                    + n + " examples into " + parts
                    + " gradient batches; it needs at least one example per batch");
        }
        long size = n / parts;
        List<LabeledBatch> out = new ArrayList<>(parts);
        for (int d = 0; d < parts; d++) {
            long from = d * size;
            NDIndex rows = new NDIndex(from + ":" + (d == parts - 1 ? n : from + size));
            out.add(new LabeledBatch(slice(heldOut.data(), rows), slice(heldOut.labels(), rows)));
        }
        return out;
    }

    private static NDList slice(NDList arrays, NDIndex rows) {
        NDList out = new NDList();
        for (NDArray a : arrays) {
            out.add(a.get(rows));
        }
        return out;
    }

    /** One measurement along the directions {@code directionsOf} makes in the scope. */
    private Report measure(Function<Scope, List<List<NDList>>> directionsOf) {
        Map<Rng, Long> saved = new LinkedHashMap<>();
        p.state.rngs.values().forEach(r -> saved.put(r, r.getState()));
        try (Scope scope = Scope.open(p.manager);
                ModelPasses.Isolation isolated = p.passes.isolate(scope, true)) {
            List<List<NDList>> vs = directionsOf.apply(scope);
            long k = 0;
            for (Rng r : saved.keySet()) {
                r.setState(seed + 7919 * ++k); // the same labels at every measurement
            }
            LabeledBatch samples = p.passes.samples(heldOut, FisherLabels.DRAWN);
            FisherEstimator estimator = p.hp.estimator().create(p.hp);
            List<List<NDList>> damped = new ArrayList<>(vs.size()); // (F̂ + γI)v
            for (List<NDList> v : vs) {
                List<NDList> fv = estimator.estimate(
                        new FisherEstimator.Pass(scope, samples, p.passes, p.blocks), v, v)
                        .product();
                List<NDList> w = new ArrayList<>(v.size());
                for (int b = 0; b < v.size(); b++) {
                    NDList wb = new NDList();
                    for (int i = 0; i < v.get(b).size(); i++) {
                        wb.add(scope.own(fv.get(b).get(i).add(v.get(b).get(i).mul(p.hp.damping()))));
                    }
                    w.add(wb);
                }
                damped.add(w);
            }
            double learned = error(p, vs, damped, scope);
            double kfac = withKfacInverse(p, heldOut, scope, () -> error(p, vs, damped, scope));
            return new Report(p.stats.steps(), p.stats.auxUpdates(), learned, kfac, vs.size());
        } finally {
            saved.forEach(Rng::setState);
        }
    }

    /** The mean of ‖Q w − v‖ / ‖v‖ over the directions, with the blocks' current λ. */
    private static double error(FishLegParts p, List<List<NDList>> vs, List<List<NDList>> ws,
            Scope scope) {
        double sum = 0;
        for (int d = 0; d < vs.size(); d++) {
            double diff2 = 0;
            double norm2 = 0;
            for (int b = 0; b < p.blocks.size(); b++) {
                NDList v = vs.get(d).get(b);
                NDList q = p.blocks.get(b).block().qv(ws.get(d).get(b));
                for (int i = 0; i < v.size(); i++) {
                    try (NDArray r = q.get(i).sub(v.get(i))) {
                        diff2 += Tensors.squaredNorm(r);
                    }
                    norm2 += Tensors.squaredNorm(v.get(i));
                }
                q.close();
            }
            sum += Math.sqrt(diff2 / norm2);
        }
        return sum / vs.size();
    }

    /**
     * Runs a measurement with K-FAC's damped inverse, estimated on the held-out batch,
     * in every Kronecker block, then puts λ back.
     */
    private static double withKfacInverse(FishLegParts p, LabeledBatch batch, Scope scope,
            java.util.function.DoubleSupplier measurement) {
        Map<String, Inverses> inverses =
                p.kronecker.inverses(m -> batch, 1, scope.manager());
        List<Map<String, NDArray>> kept = new ArrayList<>();
        for (BlockState g : p.blocks) {
            Map<String, NDArray> copy = new LinkedHashMap<>();
            g.block().getAuxParameters().forEach((n, a) -> copy.put(n, scope.own(a.duplicate())));
            kept.add(copy);
        }
        try {
            for (BlockState g : p.blocks) {
                Inverses inv = inverses.get(g.block().getName());
                if (inv != null && g.block() instanceof KroneckerBlock kb) {
                    kb.kroneckerStart(inv.output(), inv.input());
                }
            }
            return measurement.getAsDouble();
        } finally {
            for (int b = 0; b < p.blocks.size(); b++) {
                CurvatureBlock block = p.blocks.get(b).block();
                kept.get(b).forEach((n, a) -> block.state().assign(n, a));
            }
        }
    }
}
