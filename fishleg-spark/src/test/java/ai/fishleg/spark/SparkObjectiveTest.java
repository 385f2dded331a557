package ai.fishleg.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Block;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.kfac.Kfac;
import ai.fishleg.kfac.RemoteStatistics;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.core.CurvatureOptimizer;
import ai.fishleg.fishleg.Estimator;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.util.Tensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel sums on Spark in local mode (two executor threads; a failed task is retried up
 * to 4 times): N partitions with their shares of a batch give what the single-JVM pass or one
 * partition with the whole batch gives, a retried task gives the same step, bad input is named,
 * and a checkpointed run resumes exactly.
 */
class SparkObjectiveTest {

    static final int N = 24;
    static final float[][] X = TinyAutoencoder.data(N, 5);
    static final TinyAutoencoder SPEC = new TinyAutoencoder();
    /** Spread unevenly over the partitions. */
    static final long[] BATCH = {1, 2, 5, 7, 11, 13, 17, 19, 23};

    static SparkSession spark;
    static JavaSparkContext context;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2,4]").appName("fishleg-spark-test")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
                .getOrCreate();
        context = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Gradient size of the tiny model: two layers' weights and biases. */
    static final long P = 6 * 4 + 4 + 4 * 6 + 6;

    @Test
    void lossAndGradientOfThePartitionsAreThoseOfTheSingleJvmPass() {
        SparkObjective.Traffic t = spreadPassEqualsLocalPass(3, BATCH);
        // one result per partition: its loss sum, count and the gradients
        assertThat(t.jobs()).isEqualTo(1);
        assertThat(t.bytesFromTasks()).isEqualTo(3 * (4 * P + 16));
        assertThat(t.bytesToExecutors()).isEqualTo(4 * P + 8L * BATCH.length);
    }

    @Test
    void emptyPartitionsAddNothing() {
        // 8 partitions of 3 examples: 2 return sums, the others an empty result
        SparkObjective.Traffic t = spreadPassEqualsLocalPass(8, new long[] {0, 1, 3, 4});
        assertThat(t.bytesFromTasks()).isEqualTo(2 * (4 * P + 16) + 6 * 16);
    }

    /**
     * The loss and gradient of a batch through the objective over some partitions equal the
     * single-JVM pass on the same examples.
     *
     * @return the objective's traffic
     */
    static SparkObjective.Traffic spreadPassEqualsLocalPass(int partitions, long[] ids) {
        try (NDManager m = NDManager.newBaseManager();
                SparkExamples examples = SparkExamples.fromArrays(context, X, X, partitions)) {
            Block model = SPEC.initialised(m, 1);
            NDArray x = m.create(X).get(new NDIndex("{}", m.create(ids)));
            double local = lossAndBackward(model, NllFunction.of(SPEC.newLikelihood()),
                    LabeledBatch.of(x, x), m);
            List<float[]> expected = TinyAutoencoder.gradients(model);
            try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC, model)
                    .build()) {
                double spread = lossAndBackward(model, objective, SparkObjective.batch(ids, m), m);
                assertThat(spread).isCloseTo(local, org.assertj.core.data.Offset.offset(1e-5));
                assertClose(TinyAutoencoder.gradients(model), expected, 1e-5);
                return objective.traffic();
            }
        }
    }

    @Test
    void sampledLabelGradientsAndKfacSumsDoNotDependOnThePartitioning() {
        try (NDManager m = NDManager.newBaseManager();
                SparkExamples one = SparkExamples.fromArrays(context, X, X, 1);
                SparkExamples four = SparkExamples.fromArrays(context, X, X, 4)) {
            Block model = SPEC.initialised(m, 2);
            List<List<float[]>> results = new ArrayList<>();
            for (SparkExamples examples : List.of(one, four)) {
                try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC, model)
                        .seed(9).build(); NDManager step = m.newSubManager()) {
                    LabeledBatch ids = SparkObjective.batch(BATCH, step);
                    LabeledBatch samples = objective.draw(model, ids.data());
                    lossAndBackward(model, objective, samples, step);
                    List<float[]> r = new ArrayList<>(TinyAutoencoder.gradients(model));
                    Map<String, RemoteStatistics.Sums> sums = objective.kroneckerSums(
                            objective.draw(model, ids.data()), List.of("01RecordingLinear",
                                    "03RecordingLinear"), step);
                    for (RemoteStatistics.Sums s : sums.values()) {
                        r.add(s.inputs().toFloatArray());
                        r.add(s.outputGradients().toFloatArray());
                        assertThat(s.examples()).isEqualTo(BATCH.length);
                        assertThat(s.rows()).isEqualTo(BATCH.length);
                    }
                    results.add(r);
                }
            }
            assertClose(results.get(1), results.get(0), 1e-5);
        }
    }

    @Test
    void kfacAndFishLegTakeTheSameStepsOnOneAndOnThreePartitions() {
        for (String optimizer : List.of("kfac", "fishleg")) {
            List<List<float[]>> results = new ArrayList<>();
            for (int partitions : new int[] {1, 3}) {
                try (NDManager m = NDManager.newBaseManager();
                        SparkExamples examples = SparkExamples.fromArrays(context, X, X, partitions)) {
                    Block model = SPEC.initialised(m, 3);
                    try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC,
                            model).seed(4).build()) {
                        train(optimizer, model, objective, m, 2, null, null);
                    }
                    results.add(TinyAutoencoder.values(model));
                }
            }
            // two steps: the sums agree to float32 rounding, which K-FAC's inversions amplify
            // over longer runs
            assertClose(results.get(1), results.get(0), 1e-5, 1);
        }
    }

    @Test
    void aTaskThatFailsOnceIsRetriedAndTheStepIsTheSame() {
        try (NDManager m = NDManager.newBaseManager();
                SparkExamples examples = SparkExamples.fromArrays(context, X, X, 3)) {
            Block model = SPEC.initialised(m, 6);
            List<List<float[]>> results = new ArrayList<>();
            for (TaskHook hook : List.of(TaskHook.none(), (TaskHook) partition -> {
                if (partition == 1 && TaskContext.get().attemptNumber() == 0) {
                    throw new IllegalStateException("injected failure of the first attempt");
                }
            })) {
                try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC, model)
                        .seed(2).beforeEachTask(hook).build(); NDManager step = m.newSubManager()) {
                    LabeledBatch samples = objective.draw(model, SparkObjective.batch(BATCH, step).data());
                    lossAndBackward(model, objective, samples, step);
                    results.add(TinyAutoencoder.gradients(model));
                }
            }
            assertClose(results.get(1), results.get(0), 0);
        }
    }

    @Test
    void aResumedRunTakesTheStepsOfAnUninterruptedOne(@TempDir Path dir) {
        List<List<float[]>> results = new ArrayList<>();
        for (boolean resumed : new boolean[] {false, true}) {
            try (NDManager m = NDManager.newBaseManager();
                    SparkExamples examples = SparkExamples.fromArrays(context, X, X, 2)) {
                Block model = SPEC.initialised(m, 7);
                try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC, model)
                        .seed(5).build()) {
                    if (resumed) {
                        train("kfac", model, objective, m, 2, dir.resolve("run.ckpt"), null);
                        Block fresh = SPEC.initialised(m, 8);
                        try (SparkObjective again = SparkObjective.builder(context, examples, SPEC,
                                fresh).seed(5).build()) {
                            train("kfac", fresh, again, m, 2, null, dir.resolve("run.ckpt"));
                        }
                        results.add(TinyAutoencoder.values(fresh));
                    } else {
                        train("kfac", model, objective, m, 4, null, null);
                        results.add(TinyAutoencoder.values(model));
                    }
                }
            }
        }
        assertClose(results.get(1), results.get(0), 0);
    }

    @Test
    void badInputIsNamed() {
        StructType schema = new StructType()
                .add("pixels", DataTypes.createArrayType(DataTypes.FloatType))
                .add("name", DataTypes.StringType);
        List<Row> rows = new ArrayList<>();
        for (float[] x : X) {
            List<Float> v = new ArrayList<>();
            for (float f : x) {
                v.add(f);
            }
            rows.add(RowFactory.create(v, "a"));
        }
        Dataset<Row> data = spark.createDataFrame(rows, schema);
        assertThatThrownBy(() -> SparkExamples.fromDataset(data, "pixels", "name"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("column 'name' has type string");
        assertThatThrownBy(() -> SparkExamples.fromDataset(data, "image", "image"))
                .hasMessageContaining("no column 'image'").hasMessageContaining("pixels");
        try (NDManager m = NDManager.newBaseManager();
                SparkExamples examples = SparkExamples.fromDataset(data, "pixels", "pixels");
                SparkExamples wide = SparkExamples.fromArrays(context,
                        new float[][] {new float[7]}, new float[][] {new float[7]}, 1)) {
            Block model = SPEC.initialised(m, 1);
            assertThatThrownBy(() -> SparkObjective.builder(context, wide, SPEC, model).build())
                    .hasMessageContaining("7 feature values but the model takes 6");
            try (SparkObjective objective = SparkObjective.builder(context, examples, SPEC, model)
                    .build()) {
                assertThatThrownBy(() -> objective.nll(model,
                        SparkObjective.batch(new long[] {3, 40}, m)))
                        .hasMessageContaining("names 2 examples but the executors found 1");
            }
        }
    }

    /** Zeroes the gradients, backpropagates the loss; returns its value. */
    static double lossAndBackward(Block model, NllFunction nll, LabeledBatch batch, NDManager m) {
        for (var p : model.getParameters()) {
            try (NDArray g = p.getValue().getArray().getGradient()) {
                Tensors.zero(g);
            }
        }
        try (GradientCollector gc = m.getEngine().newGradientCollector()) {
            NDArray l = nll.nll(model, batch);
            gc.backward(l);
            return Tensors.scalar(l);
        }
    }

    /** A few steps of K-FAC or FishLeg (antithetic, Kronecker start), saving or resuming. */
    static void train(String optimizer, Block model, SparkObjective objective, NDManager m,
            int steps, Path save, Path resume) {
        try (NDManager ids = m.newSubManager()) {
            BatchSource aux = objective.randomBatches(8, 11, ids);
            BatchSource batches = objective.randomBatches(8, 12, ids);
            BiFunction<Block, BatchSource, CurvatureOptimizer> make = optimizer.equals("kfac")
                    ? (b, a) -> Kfac.builder(b, objective, objective, a).lr(0.1).damping(0.1)
                            .covEvery(1).invEvery(2).build()
                    : (b, a) -> FishLeg.builder(b, objective, objective, a)
                            .estimator(Estimator.ANTITHETIC).normalization(true)
                            .kroneckerStart(1).kroneckerEvery(2).updateAuxEvery(1)
                            .fishLr(0.05).damping(0.1).build();
            try (CurvatureOptimizer opt = make.apply(model, aux)) {
                if (resume != null) {
                    try {
                        opt.load(resume);
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                    for (long i = 0; i < opt.getStepCount(); i++) { // the loop's position
                        batches.next(ids);
                    }
                }
                for (int i = 0; i < steps; i++) {
                    try (NDManager step = m.newSubManager()) {
                        opt.zeroGrad();
                        lossAndBackward(model, objective, batches.next(step), step);
                        opt.step();
                    }
                }
                if (save != null) {
                    opt.save(save);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    static void assertClose(List<float[]> actual, List<float[]> expected, double tolerance) {
        assertClose(actual, expected, tolerance, 1e-3);
    }

    /** Elementwise within tolerance · max(the array's largest magnitude, floor). */
    static void assertClose(List<float[]> actual, List<float[]> expected, double tolerance,
            double floor) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            float[] a = actual.get(i);
            float[] e = expected.get(i);
            assertThat(a).hasSameSizeAs(e);
            double scale = 0;
            for (float v : e) {
                scale = Math.max(scale, Math.abs(v));
            }
            for (int j = 0; j < e.length; j++) {
                assertThat((double) Math.abs(a[j] - e[j]))
                        .as("array %d element %d: %s vs %s", i, j, a[j], e[j])
                        .isLessThanOrEqualTo(tolerance * Math.max(scale, floor));
            }
        }
    }
}
