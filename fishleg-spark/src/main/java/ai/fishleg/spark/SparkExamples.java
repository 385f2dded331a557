package ai.fishleg.spark;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.storage.StorageLevel;

/**
 * The training examples where they live: a cached RDD of {@link Example}s, each with its id (its
 * position, 0 to n − 1), which the driver's batches name. Built from a Spark {@link Dataset} (a
 * features column and a label column, numeric arrays or numbers) or, for tests and the command
 * line, from arrays on the driver.
 */
public final class SparkExamples implements AutoCloseable {

    private final JavaRDD<Example> rdd;
    private final long count;
    private final int featureSize;

    private SparkExamples(JavaRDD<Example> rdd) {
        this(rdd, false);
    }

    /**
     * @param rdd the examples
     * @param fromDriver whether they were parallelized from the driver: their lineage then holds
     *     the data itself, which every task would carry, so it is cut (a local checkpoint: the
     *     cached blocks are the data; losing an executor loses its share of them)
     */
    private SparkExamples(JavaRDD<Example> rdd, boolean fromDriver) {
        JavaRDD<Example> cached = rdd.persist(StorageLevel.MEMORY_ONLY());
        if (fromDriver) {
            cached.rdd().localCheckpoint();
        }
        this.rdd = cached;
        this.count = this.rdd.count();
        if (count == 0) {
            throw new IllegalArgumentException("the training data has no rows");
        }
        this.featureSize = this.rdd.first().features().length;
    }

    /**
     * The rows of a Dataset as examples (ids in the Dataset's order).
     *
     * @param data the rows
     * @param featuresColumn a column of numeric arrays (float or double), the model input
     * @param labelColumn a column of numeric arrays or numbers, the target; the features column
     *     itself for an auto-encoder
     * @return the examples, cached
     * @throws IllegalArgumentException naming a missing column or one of the wrong type
     */
    public static SparkExamples fromDataset(
            Dataset<Row> data, String featuresColumn, String labelColumn) {
        int fi = column(data, featuresColumn, true);
        boolean same = featuresColumn.equals(labelColumn);
        int li = same ? fi : column(data, labelColumn, false);
        JavaRDD<Example> rdd = data.javaRDD().zipWithIndex().map(t -> {
            float[] x = values(t._1(), fi, featuresColumn, t._2());
            float[] y = same ? x : values(t._1(), li, labelColumn, t._2());
            return new Example(t._2(), x, y);
        });
        return new SparkExamples(rdd);
    }

    /**
     * Examples from arrays on the driver (each row one example), spread over partitions.
     *
     * @param context the Spark context
     * @param features one row per example
     * @param labels one row per example, or the same array as {@code features} for an
     *     auto-encoder
     * @param partitions the number of partitions, >= 1
     * @return the examples, cached
     */
    public static SparkExamples fromArrays(
            JavaSparkContext context, float[][] features, float[][] labels, int partitions) {
        if (features.length != labels.length) {
            throw new IllegalArgumentException("there are " + features.length
                    + " feature rows but " + labels.length + " label rows");
        }
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions must be >= 1, got " + partitions);
        }
        List<Example> rows = new ArrayList<>(features.length);
        for (int i = 0; i < features.length; i++) {
            rows.add(new Example(i, features[i], features == labels ? features[i] : labels[i]));
        }
        return new SparkExamples(context.parallelize(rows, partitions), true);
    }

    /** @return the examples */
    public JavaRDD<Example> rdd() {
        return rdd;
    }

    /** @return the number of examples */
    public long count() {
        return count;
    }

    /** @return the number of feature values of the first example */
    public int featureSize() {
        return featureSize;
    }

    /** @return the number of partitions (the most tasks a job runs at once) */
    public int partitions() {
        return rdd.getNumPartitions();
    }

    /** Drops the cached rows. */
    @Override
    public void close() {
        rdd.unpersist(false);
    }

    private static int column(Dataset<Row> data, String name, boolean arrayOnly) {
        StructField[] fields = data.schema().fields();
        for (int i = 0; i < fields.length; i++) {
            if (fields[i].name().equals(name)) {
                DataType t = fields[i].dataType();
                boolean numericArray = t instanceof ArrayType a && numeric(a.elementType());
                if (numericArray || (!arrayOnly && numeric(t))) {
                    return i;
                }
                throw new IllegalArgumentException("column '" + name + "' has type "
                        + t.simpleString() + "; it must be an array of float or double"
                        + (arrayOnly ? "" : ", or a number"));
            }
        }
        List<String> names = new ArrayList<>();
        for (StructField f : fields) {
            names.add(f.name());
        }
        throw new IllegalArgumentException("the Dataset has no column '" + name + "'; its columns: "
                + names);
    }

    private static boolean numeric(DataType t) {
        return t.equals(DataTypes.FloatType) || t.equals(DataTypes.DoubleType)
                || t.equals(DataTypes.IntegerType) || t.equals(DataTypes.LongType);
    }

    private static float[] values(Row r, int index, String column, long row) {
        Object cell = r.get(index);
        if (cell == null) {
            throw new IllegalArgumentException("row " + row + " has no value in column '" + column
                    + "'");
        }
        if (cell instanceof Number n) {
            return new float[] {n.floatValue()};
        }
        List<Object> list = r.getList(index);
        float[] out = new float[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = list.get(i);
            if (v == null) {
                throw new IllegalArgumentException("row " + row + " has a missing value in column '"
                        + column + "'");
            }
            out[i] = ((Number) v).floatValue();
        }
        return out;
    }
}
