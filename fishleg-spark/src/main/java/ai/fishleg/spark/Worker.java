package ai.fishleg.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.RemoteStatistics;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.core.GuardedPass;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The executor's side of a job: picks the partition's examples of the batch, sets its replica of
 * the model to the broadcast parameters and returns the sums of its share ({@link Partial}).
 * Replicas are cached per executor JVM by run and partition, so a model is built once per run and
 * tasks running at the same time never share one.
 */
final class Worker {

    private static final Map<String, Replica> REPLICAS = new ConcurrentHashMap<>();

    private Worker() {}

    /**
     * @param job the broadcast job
     * @param partition the partition's index
     * @param rows the partition's examples
     * @return the sums over the partition's examples of the batch
     */
    static Partial run(Job job, int partition, Iterator<Example> rows) {
        job.hook().beforeTask(partition);
        List<Example> mine = new ArrayList<>();
        while (rows.hasNext()) {
            Example e = rows.next();
            if (Arrays.binarySearch(job.ids(), e.id()) >= 0) {
                mine.add(e);
            }
        }
        if (mine.isEmpty()) {
            return Partial.EMPTY;
        }
        Replica r = REPLICAS.computeIfAbsent(job.runId() + "/" + partition, k -> new Replica(job.spec()));
        synchronized (r) {
            return r.compute(job, partition, mine);
        }
    }

    /** Frees the replicas of a run held by this JVM (the driver's, in local mode). */
    static void release(String runId) {
        REPLICAS.entrySet().removeIf(e -> {
            if (e.getKey().startsWith(runId + "/")) {
                e.getValue().manager.close();
                return true;
            }
            return false;
        });
    }

    /** The seed of one example's draw in a job. */
    static long seed(long drawSeed, long id) {
        long z = drawSeed + 0x9E3779B97F4A7C15L * (id + 1);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static float[] floats(NDArray a) {
        return a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray();
    }

    /** One replica: the model, its likelihood and its parameter arrays. */
    private static final class Replica {
        final ReplicaSpec spec;
        final NDManager manager;
        final Block model;
        final FishLikelihood likelihood;
        final List<NDArray> parameters = new ArrayList<>();
        final List<NDArray> trainable = new ArrayList<>();
        final List<String> names = new ArrayList<>();

        Replica(ReplicaSpec spec) {
            this.spec = spec;
            this.manager = NDManager.newBaseManager();
            this.model = spec.newModel();
            this.likelihood = spec.newLikelihood();
            model.initialize(manager, spec.dataType(), spec.inputShape(1));
            for (Pair<String, Parameter> p : model.getParameters()) {
                parameters.add(p.getValue().getArray());
                names.add(p.getKey());
                if (p.getValue().requiresGradient()) {
                    trainable.add(p.getValue().getArray());
                }
            }
        }

        Partial compute(Job job, int partition, List<Example> mine) {
            try (NDManager step = manager.newSubManager(); Scope scope = Scope.open(step)) {
                LabeledBatch batch = batch(mine, step);
                long n = mine.size();
                long[] ids = new long[mine.size()];
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = mine.get(i).id();
                }
                DrawFunction draw = new RowSeededDraw(likelihood, job.drawSeed(), ids);
                if (job.pass() == Pass.KRONECKER) {
                    set(job.drawParameters());
                    Map<String, RemoteStatistics.Sums> sums;
                    synchronized (Backward.LOCK) { // K-FAC's pass opens DJL's collector
                        sums = RemoteStatistics.localSums(model, draw, NllFunction.of(likelihood),
                                batch, job.layers(), step);
                    }
                    float[][] out = new float[2 * job.layers().size()][];
                    long[] counts = new long[2 * job.layers().size()];
                    for (int i = 0; i < job.layers().size(); i++) {
                        RemoteStatistics.Sums s = sums.get(job.layers().get(i));
                        out[2 * i] = floats(s.inputs());
                        out[2 * i + 1] = floats(s.outputGradients());
                        counts[2 * i] = s.rows();
                        counts[2 * i + 1] = s.examples();
                    }
                    return new Partial(n, 0, out, counts);
                }
                LabeledBatch labelled = batch;
                if (job.pass() == Pass.SAMPLED_LABELS) {
                    set(job.drawParameters());
                    labelled = draw.draw(model, batch.data());
                }
                set(job.parameters());
                GuardedPass.zeroGradients(trainable, scope);
                LabeledBatch finalLabels = labelled;
                double loss = Backward.run(step,
                        () -> NllFunction.of(likelihood).nll(model, finalLabels));
                float[][] grads = new float[trainable.size()][];
                for (int i = 0; i < trainable.size(); i++) {
                    NDArray g = scope.own(trainable.get(i).getGradient());
                    grads[i] = floats(scope.own(Tensors.mulConst(g, n)));
                }
                return new Partial(n, loss * n, grads, new long[0]);
            }
        }

        /** Writes the driver's values into the replica's parameters. */
        private void set(float[][] values) {
            if (values.length != parameters.size()) {
                throw new IllegalArgumentException("the driver sent " + values.length
                        + " parameter arrays but the executor's model has " + parameters.size()
                        + "; the ReplicaSpec must build the driver's architecture");
            }
            for (int i = 0; i < values.length; i++) {
                NDArray p = parameters.get(i);
                if (p.size() != values[i].length) {
                    throw new IllegalArgumentException("parameter " + names.get(i) + " has "
                            + p.size() + " values on the executor but " + values[i].length
                            + " on the driver; the ReplicaSpec must build the driver's architecture");
                }
                p.set(FloatBuffer.wrap(values[i]));
            }
        }

        private LabeledBatch batch(List<Example> mine, NDManager step) {
            int n = mine.size();
            Shape xs = spec.inputShape(n);
            Shape ys = spec.labelShape(n);
            float[] x = flatten(mine, xs.size(), true);
            NDArray xa = step.create(x, xs).toType(spec.dataType(), false);
            if (mine.get(0).label() == mine.get(0).features()) {
                return LabeledBatch.of(xa, xa);
            }
            NDArray ya = step.create(flatten(mine, ys.size(), false), ys)
                    .toType(spec.dataType(), false);
            return LabeledBatch.of(xa, ya);
        }

        private static float[] flatten(List<Example> mine, long total, boolean features) {
            int n = mine.size();
            int each = Math.toIntExact(total / n);
            float[] out = new float[Math.toIntExact(total)];
            for (int i = 0; i < n; i++) {
                Example e = mine.get(i);
                float[] v = features ? e.features() : e.label();
                if (v.length != each) {
                    throw new IllegalArgumentException("example " + e.id() + " has " + v.length
                            + (features ? " feature" : " label") + " values but the model takes "
                            + each + " per example");
                }
                System.arraycopy(v, 0, out, i * each, each);
            }
            return out;
        }
    }
}
