package ai.fishleg.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.fishleg.util.Rng;
import ai.fishleg.util.RngOwner;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/** Ready-made {@link BatchSource}s. */
public final class BatchSources {

    private BatchSources() {}

    /**
     * Random minibatches from in-memory arrays: every call returns {@code batchSize} distinct
     * examples chosen uniformly at random (the first batch of a fresh random permutation, as the
     * reference obtains from a new shuffled iterator).
     *
     * @param inputs inputs, examples on the first axis
     * @param targets targets, examples on the first axis
     * @param batchSize examples per batch, at most the number of examples
     * @param seed seed of the source's own random generator
     * @return the source
     */
    public static BatchSource randomBatches(
            NDArray inputs, NDArray targets, int batchSize, long seed) {
        long n = inputs.getShape().get(0);
        if (targets.getShape().get(0) != n) {
            throw new IllegalArgumentException(
                    "inputs have " + n + " examples but targets have " + targets.getShape().get(0));
        }
        checkBatchSize(batchSize, n);
        return new RandomBatchSource(seed, (manager, idx) -> {
            NDArray index = manager.create(toLong(idx));
            NDArray x = inputs.get(new NDIndex("{}", index));
            NDArray y = targets.get(new NDIndex("{}", index));
            x.attach(manager);
            y.attach(manager);
            return LabeledBatch.of(x, y);
        }, (int) n, batchSize);
    }

    /**
     * Random minibatches from a DJL {@link RandomAccessDataset}: every call reads {@code batchSize}
     * distinct random records and stacks them.
     *
     * @param dataset the dataset (prepared)
     * @param batchSize examples per batch
     * @param seed seed of the source's own random generator
     * @return the source
     */
    public static BatchSource randomBatches(RandomAccessDataset dataset, int batchSize, long seed) {
        long n = dataset.size();
        checkBatchSize(batchSize, n);
        return new RandomBatchSource(seed, (manager, idx) -> {
            List<NDList> data = new ArrayList<>(batchSize);
            List<NDList> labels = new ArrayList<>(batchSize);
            try (NDManager records = manager.newSubManager()) {
                for (int i : idx) {
                    Record r = dataset.get(records, i);
                    data.add(r.getData());
                    labels.add(r.getLabels());
                }
                NDList x = stack(data);
                NDList y = stack(labels);
                x.attach(manager);
                y.attach(manager);
                return new LabeledBatch(x, y);
            } catch (IOException e) {
                throw new UncheckedIOException("could not read a record of the auxiliary dataset", e);
            }
        }, (int) n, batchSize);
    }

    /** Reads the examples with the given indices into a batch owned by the manager. */
    @FunctionalInterface
    private interface Gather {
        LabeledBatch gather(NDManager manager, int[] indices);
    }

    /** Uniform random batches of distinct examples, from its own generator. */
    private static final class RandomBatchSource implements BatchSource, RngOwner {
        private final Rng rng;
        private final Gather gather;
        private final int size;
        private final int batchSize;

        RandomBatchSource(long seed, Gather gather, int size, int batchSize) {
            this.rng = new Rng(seed);
            this.gather = gather;
            this.size = size;
            this.batchSize = batchSize;
        }

        @Override
        public LabeledBatch next(NDManager manager) {
            return gather.gather(manager, rng.sampleWithoutReplacement(size, batchSize));
        }

        @Override
        public Rng getRng() {
            return rng;
        }
    }

    /**
     * Replays a fixed list of batches in order, cycling; useful for tests and for warm-up data.
     *
     * @param batches the batches (their arrays are copied into each caller's manager)
     * @return the source
     */
    public static BatchSource cycle(List<LabeledBatch> batches) {
        if (batches.isEmpty()) {
            throw new IllegalArgumentException("cycle needs at least one batch");
        }
        int[] next = {0};
        return manager -> {
            LabeledBatch b = batches.get(next[0]);
            next[0] = (next[0] + 1) % batches.size();
            return new LabeledBatch(copy(b.data(), manager), copy(b.labels(), manager));
        };
    }

    private static NDList copy(NDList list, NDManager manager) {
        NDList out = new NDList(list.size());
        for (NDArray a : list) {
            NDArray c = a.duplicate();
            c.attach(manager);
            out.add(c);
        }
        return out;
    }

    private static NDList stack(List<NDList> rows) {
        int parts = rows.get(0).size();
        NDList out = new NDList(parts);
        for (int p = 0; p < parts; p++) {
            NDList column = new NDList(rows.size());
            for (NDList r : rows) {
                column.add(r.get(p));
            }
            out.add(NDArrays.stack(column));
        }
        return out;
    }

    private static void checkBatchSize(int batchSize, long n) {
        if (n <= 0) {
            throw new IllegalArgumentException("the data has no examples: a batch source needs at least one");
        }
        if (batchSize <= 0 || batchSize > n) {
            throw new IllegalArgumentException(
                    "batchSize must be in [1, " + n + "] (the number of examples), got " + batchSize);
        }
    }

    private static long[] toLong(int[] idx) {
        long[] out = new long[idx.length];
        for (int i = 0; i < idx.length; i++) {
            out[i] = idx[i];
        }
        return out;
    }
}
