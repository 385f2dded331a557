package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.fishleg.core.GuardedPass;
import ai.fishleg.curvature.LayerRecords;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.util.Scope;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What K-FAC reads from the recorded passes of its layers: the next Kronecker factors, from a
 * pass of its own with labels drawn from the model (the true Fisher), and the rows of the user's
 * training pass, from which the activation form of the natural gradient is computed.
 */
final class RecordedPasses {

    private static final Logger LOG = LoggerFactory.getLogger(Kfac.class);

    private final Block model;
    private final DrawFunction draw;
    private final NllFunction nll;
    private final BatchSource curvatureData;
    private final LayerGroups groups;

    /**
     * @param model the network
     * @param draw samples labels from the model
     * @param nll the loss of the statistics pass, a mean over the batch
     * @param curvatureData one batch per statistics update
     * @param groups the layers
     */
    RecordedPasses(Block model, DrawFunction draw, NllFunction nll, BatchSource curvatureData,
            LayerGroups groups) {
        this.model = model;
        this.draw = draw;
        this.nll = nll;
        this.curvatureData = curvatureData;
        this.groups = groups;
    }

    /**
     * One pass on a batch of {@code curvatureData} with labels drawn from the model ({@code
     * fisherSamples} independent draws per example) or with the batch's own labels, and the next
     * factors of every K-FAC layer from its recorded rows, into {@code factors}.
     */
    void curvatureStatistics(NDList[] factors, double statDecay, FactorInit init, int fisherSamples,
            FisherLabels labels, Scope scope) {
        LabeledBatch batch = repeated(
                curvatureData.nextNonEmpty(scope.manager(), "curvature"), fisherSamples);
        if (nll instanceof RemoteStatistics remote) { // the examples live elsewhere
            RemoteStatistics.nextFactors(remote, labelled(batch, labels), groups, factors,
                    statDecay, init, scope);
            return;
        }
        try (GuardedPass pass = GuardedPass.open(model, groups.trainable, scope)) {
            LabeledBatch samples = labelled(batch, labels);
            groups.clearRecords(); // a draw's forward pass is not part of the statistics
            pass.backward(nll, samples);
            for (int gi = 0; gi < groups.list.size(); gi++) {
                KroneckerFactoredBlock block = groups.list.get(gi).block;
                if (block == null) {
                    continue;
                }
                KroneckerFactoredBlock.Rows rows =
                        block.rows(LayerRecords.passes(block.getLayer()), scope);
                if (rows == null) {
                    throw new IllegalStateException(
                            "layer " + LayerSelection.displayName(block.getName()) + " recorded"
                                    + " no training-mode pass during K-FAC's statistics pass; is"
                                    + " it part of the model's forward pass?");
                }
                factors[gi] = block.nextFactors(rows, samples.size(), statDecay, init, scope);
            }
        } finally {
            groups.clearRecords();
        }
    }

    /** The batch with the labels of the statistics pass: drawn from the model, or its own. */
    private LabeledBatch labelled(LabeledBatch batch, FisherLabels labels) {
        return labels == FisherLabels.OBSERVED ? batch : draw.draw(model, batch.data());
    }

    /**
     * @param batch a batch
     * @param times how often each example is to appear
     * @return the batch stacked {@code times} times (so that labels are drawn that many times per
     *     example; the mean loss over the stack keeps G's scale)
     */
    private static LabeledBatch repeated(LabeledBatch batch, int times) {
        if (times == 1) {
            return batch;
        }
        return new LabeledBatch(stacked(batch.data(), times), stacked(batch.labels(), times));
    }

    private static NDList stacked(NDList arrays, int times) {
        NDList out = new NDList();
        for (NDArray x : arrays) {
            NDList copies = new NDList();
            for (int i = 0; i < times; i++) {
                copies.add(x);
            }
            out.add(NDArrays.concat(copies, 0));
        }
        return out;
    }

    /**
     * The rows of the training pass's gradient for every K-FAC layer where the activation form
     * is cheaper, checked against the gradients (one read-back for all layers); null elsewhere,
     * and wherever the record does not reproduce the gradient (gradients cleared without {@link
     * Kfac#zeroGrad()}, several passes of which some were cleared, ...).
     */
    KroneckerFactoredBlock.Rows[] trainingRows(NDList[] grads, Scope scope) {
        KroneckerFactoredBlock.Rows[] out = new KroneckerFactoredBlock.Rows[groups.list.size()];
        List<Integer> found = new ArrayList<>();
        NDList mismatches = new NDList();
        for (int gi = 0; gi < groups.list.size(); gi++) {
            KroneckerFactoredBlock block = groups.list.get(gi).block;
            if (block == null) {
                continue;
            }
            List<LayerRecords.Pass> passes = LayerRecords.passes(block.getLayer());
            if (passes.isEmpty() || !block.activationFormPaysOff(block.rowCount(passes))) {
                continue;
            }
            KroneckerFactoredBlock.Rows rows = block.rows(passes, scope);
            if (rows != null) {
                out[gi] = rows;
                found.add(gi);
                mismatches.add(block.mismatch(rows, grads[gi], scope));
            }
        }
        if (found.isEmpty()) {
            return out;
        }
        double[] m = NDArrays.concat(mismatches).toType(DataType.FLOAT64, false).toDoubleArray();
        for (int j = 0; j < found.size(); j++) {
            int gi = found.get(j);
            double tolerance = grads[gi].get(0).getDataType() == DataType.FLOAT64 ? 1e-9 : 1e-3;
            if (!(m[2 * j] <= tolerance * tolerance * m[2 * j + 1])) {
                LOG.debug("layer {}: the recorded pass does not reproduce the gradient; the weight"
                        + " form is used", LayerSelection.displayName(groups.list.get(gi).name));
                out[gi] = null;
            }
        }
        return out;
    }
}
