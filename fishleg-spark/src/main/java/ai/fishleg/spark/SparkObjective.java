package ai.fishleg.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.RemoteStatistics;
import ai.fishleg.likelihood.DrawFunction;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.util.LongAccumulator;

/**
 * The driver's view of a loss whose examples live on Spark executors: synchronous data-parallel
 * training where the driver holds the model and the optimizer (FishLeg, K-FAC, Adam, ...) and the
 * executors compute sums over their share of every batch (docs/SPARK.md).
 *
 * <p>Batches are batches of example ids ({@link #randomBatches}, {@link #batch}). {@link #nll} on
 * such a batch broadcasts the model's parameters and the ids, lets every partition sum the loss
 * and the gradient over its examples of the batch, collects the sums and adds them in partition order and
 * returns a scalar whose value is the batch-mean loss and whose gradient with respect to the
 * model's parameters is the batch-mean gradient: the optimizer's step is the step the single-JVM
 * loop takes on the same batch. {@link #draw} remembers the parameters at which labels are to be
 * drawn, so FishLeg's auxiliary passes (also the antithetic estimator's perturbed ones) get the
 * sampled-label gradient of the whole auxiliary batch, and {@link #kroneckerSums} supplies K-FAC's
 * factor statistics (and FishLeg's Kronecker start). Draws are seeded from the run's seed, the
 * batch's ids, the draw's parameters and each example's id, so a run (and a retried task) is
 * reproducible.
 *
 * <p>Use it as both the {@code draw} and the {@code nll} of the optimizer's builder, and as the
 * training loss; its data source of ids as the auxiliary (curvature) data.
 */
public final class SparkObjective implements RemoteStatistics, DrawFunction, AutoCloseable {

    /** Draws whose parameters are kept (an optimizer uses a draw right after making it). */
    private static final int KEPT_DRAWS = 8;

    private final JavaSparkContext context;
    private final SparkExamples examples;
    private final ReplicaSpec spec;
    private final Block model;
    private final long seed;
    private final TaskHook hook;
    private final String runId = UUID.randomUUID().toString();
    private final List<NDArray> parameters = new ArrayList<>();
    private final List<NDArray> trainable = new ArrayList<>();
    private final Map<Integer, float[][]> draws = new LinkedHashMap<>(16, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, float[][]> eldest) {
            return size() > KEPT_DRAWS;
        }
    };
    private final LongAccumulator bytesFromTasks;
    private int nextDraw;
    private long jobs;
    private long bytesToExecutors;

    private SparkObjective(Builder b) {
        this.context = b.context;
        this.examples = b.examples;
        this.spec = b.spec;
        this.model = b.model;
        this.seed = b.seed;
        this.hook = b.hook;
        for (Pair<String, Parameter> p : model.getParameters()) {
            parameters.add(p.getValue().getArray());
            if (p.getValue().requiresGradient()) {
                trainable.add(p.getValue().getArray());
            }
        }
        long perExample = spec.inputShape(1).size();
        if (examples.featureSize() != perExample) {
            throw new IllegalArgumentException("the examples have " + examples.featureSize()
                    + " feature values but the model takes " + perExample + " per example (input "
                    + spec.inputShape(1) + "); check the features column or the model");
        }
        if (!spec.newLikelihood().getParameters().isEmpty()) {
            throw new IllegalArgumentException("the likelihood has learnable parameters, which"
                    + " Spark training does not support yet; use a likelihood without them");
        }
        this.bytesFromTasks = context.sc().longAccumulator("fishleg bytes from tasks");
    }

    /**
     * @param context the Spark context
     * @param examples the training examples
     * @param spec rebuilds the model on the executors
     * @param model the driver's model, initialised (the optimizer steps it)
     * @return a builder with the defaults (seed 0, no task hook)
     */
    public static Builder builder(
            JavaSparkContext context, SparkExamples examples, ReplicaSpec spec, Block model) {
        return new Builder(context, examples, spec, model);
    }

    /**
     * @param batchSize examples per batch
     * @param batchSeed the seed of the batches' order
     * @param owner owns the array of ids (keep it open while the source is used)
     * @return random batches of ids without repeats in a batch (as {@link
     *     BatchSources#randomBatches(NDArray, NDArray, int, long)})
     */
    public BatchSource randomBatches(int batchSize, long batchSeed, NDManager owner) {
        NDArray ids = allIds(owner);
        return BatchSources.randomBatches(ids, ids, batchSize, batchSeed);
    }

    /**
     * @param owner owns the result
     * @return the ids of every example, 0 to n − 1 (INT64, one per example)
     */
    public NDArray allIds(NDManager owner) {
        long[] all = new long[Math.toIntExact(examples.count())];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return owner.create(all);
    }

    /**
     * @param ids example ids
     * @param manager owns the arrays
     * @return the batch of those examples, with their own labels
     */
    public static LabeledBatch batch(long[] ids, NDManager manager) {
        NDArray a = manager.create(ids);
        return LabeledBatch.of(a, a);
    }

    @Override
    public NDArray nll(Block model, LabeledBatch batch) {
        requireModel(model);
        long[] ids = ids(batch.data().head());
        NDArray labels = batch.label();
        float[][] now = snapshot();
        float[][] at = labels.getDataType() == DataType.INT32 ? drawn(labels) : now;
        Pass pass = at == now ? Pass.GIVEN_LABELS : Pass.SAMPLED_LABELS;
        Partial total = run(new Job(runId, spec, now, at, ids, pass, drawSeed(ids, at), List.of(),
                hook));
        NDManager m = batch.data().head().getManager();
        double n = total.examples();
        NDArray out = m.create((float) (total.lossSum() / n));
        for (int i = 0; i < trainable.size(); i++) {
            NDArray p = trainable.get(i);
            float[] g = total.sums()[i];
            for (int j = 0; j < g.length; j++) {
                g[j] /= n;
            }
            NDArray term = m.create(g, p.getShape()).toType(p.getDataType(), false).mul(p).sum();
            out = out.add(term.sub(term.stopGradient()).toType(DataType.FLOAT32, false));
        }
        return out;
    }

    @Override
    public LabeledBatch draw(Block model, NDList inputs) {
        requireModel(model);
        int id = nextDraw++;
        draws.put(id, snapshot());
        long n = inputs.head().getShape().get(0);
        NDArray marker = inputs.head().getManager().full(new Shape(n), id, DataType.INT32);
        return new LabeledBatch(inputs, new NDList(marker));
    }

    @Override
    public Map<String, Sums> kroneckerSums(
            LabeledBatch samples, List<String> layers, NDManager manager) {
        long[] ids = ids(samples.data().head());
        if (samples.label().getDataType() != DataType.INT32) {
            throw new IllegalArgumentException("K-FAC's statistics need labels drawn by this"
                    + " objective's draw function; give the optimizer the objective as its draw");
        }
        float[][] at = drawn(samples.label());
        Partial total = run(new Job(runId, spec, at, at, ids, Pass.KRONECKER, drawSeed(ids, at),
                List.copyOf(layers), hook));
        DataType type = parameters.get(0).getDataType();
        Map<String, Sums> out = new LinkedHashMap<>();
        for (int i = 0; i < layers.size(); i++) {
            out.put(layers.get(i), new Sums(square(total.sums()[2 * i], manager, type),
                    total.counts()[2 * i], square(total.sums()[2 * i + 1], manager, type),
                    total.counts()[2 * i + 1]));
        }
        return out;
    }

    /** @return what the run has exchanged so far */
    public Traffic traffic() {
        return new Traffic(jobs, bytesToExecutors, bytesFromTasks.value());
    }

    /**
     * The payload a run has exchanged: float32 values, example ids and counts (Spark's own framing,
     * task descriptions and the serialized {@link ReplicaSpec} are not counted).
     *
     * @param jobs Spark jobs run (one per gradient, sampled-label or statistics pass)
     * @param bytesToExecutors bytes broadcast to the executors (each executor fetches a broadcast
     *     once)
     * @param bytesFromTasks bytes the tasks returned (one result per partition)
     */
    public record Traffic(long jobs, long bytesToExecutors, long bytesFromTasks) {}

    /** Frees the replicas this JVM holds (in local mode, the executors' replicas). */
    @Override
    public void close() {
        Worker.release(runId);
    }

    private Partial run(Job job) {
        Broadcast<Job> b = context.broadcast(job);
        LongAccumulator bytes = bytesFromTasks;
        try {
            // one result per partition, summed in partition order: the same sums whatever order
            // the tasks finish in (and after a retry)
            List<Partial> parts = examples.rdd().mapPartitionsWithIndex((index, rows) -> {
                Partial p = Worker.run(b.value(), index, rows);
                bytes.add(p.payloadBytes());
                return List.of(p).iterator();
            }, false).collect();
            Partial total = Partial.EMPTY;
            for (Partial p : parts) {
                total = total.plus(p);
            }
            jobs++;
            bytesToExecutors += job.payloadBytes();
            if (total.examples() != job.ids().length) {
                throw new IllegalArgumentException("the batch names " + job.ids().length
                        + " examples but the executors found " + total.examples() + " of them;"
                        + " ids must lie in 0.." + (examples.count() - 1));
            }
            return total;
        } finally {
            b.destroy();
        }
    }

    private void requireModel(Block m) {
        if (m != model) {
            throw new IllegalArgumentException("this objective computes on the model it was built"
                    + " with; it was called with another model");
        }
    }

    private float[][] drawn(NDArray marker) {
        int id = marker.toType(DataType.INT32, false).getInt(0);
        float[][] at = draws.get(id);
        if (at == null) {
            throw new IllegalStateException("draw " + id + " is no longer known (only the last "
                    + KEPT_DRAWS + " draws are kept): use sampled labels right after drawing them");
        }
        return at;
    }

    private float[][] snapshot() {
        float[][] out = new float[parameters.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = parameters.get(i).toType(DataType.FLOAT32, false).toFloatArray();
        }
        return out;
    }

    private static long[] ids(NDArray a) {
        long[] ids = a.toType(DataType.INT64, false).toLongArray();
        long[] sorted = ids.clone();
        Arrays.sort(sorted);
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1]) {
                throw new IllegalArgumentException("the batch names example " + sorted[i]
                        + " twice; a batch is a set of example ids");
            }
        }
        if (sorted.length == 0) {
            throw new IllegalArgumentException("the batch is empty");
        }
        return sorted;
    }

    private long drawSeed(long[] ids, float[][] at) {
        long h = seed * 0x9E3779B97F4A7C15L + Arrays.hashCode(ids);
        for (float[] p : at) {
            h = h * 31 + Arrays.hashCode(p);
        }
        return h;
    }

    private static NDArray square(float[] values, NDManager manager, DataType type) {
        long k = Math.round(Math.sqrt(values.length));
        return manager.create(values, new Shape(k, k)).toType(type, false);
    }

    /** Builds a {@link SparkObjective}. */
    public static final class Builder {
        private final JavaSparkContext context;
        private final SparkExamples examples;
        private final ReplicaSpec spec;
        private final Block model;
        private long seed;
        private TaskHook hook = TaskHook.none();

        private Builder(
                JavaSparkContext context, SparkExamples examples, ReplicaSpec spec, Block model) {
            this.context = context;
            this.examples = examples;
            this.spec = spec;
            this.model = model;
        }

        /** @param value the run's seed (of every draw) @return this */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /** @param value runs before every task (none by default) @return this */
        public Builder beforeEachTask(TaskHook value) {
            this.hook = java.util.Objects.requireNonNull(value, "hook");
            return this;
        }

        /** @return the objective */
        public SparkObjective build() {
            return new SparkObjective(this);
        }
    }
}
