package ai.fishleg.kfac;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.curvature.LayerRecords;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A loss whose examples live elsewhere (for example on the executors of a Spark cluster) and that
 * therefore also supplies the Kronecker statistics of K-FAC's sampled-label pass itself. When the
 * {@code nll} given to K-FAC (or to FishLeg's Kronecker start) implements this interface, the
 * statistics pass asks it for the sums below instead of recording a pass of the local model;
 * everything else of the step is unchanged. {@link #localSums} computes the same sums on a local
 * model, which is what a remote worker runs on its share of the batch.
 */
public interface RemoteStatistics extends NllFunction {

    /**
     * The sums of one layer's statistics over some examples: A = inputs / rows and G =
     * outputGradients / examples are the layer's Kronecker factors on those examples.
     *
     * @param inputs Σ âᵀâ over the rows â of the layer's input (with the column of ones for a bias)
     * @param rows the number of rows (examples times spatial positions for a convolution)
     * @param outputGradients Σ eᵀe over the rows e of the per-example output gradients (the
     *     gradient of each example's own loss)
     * @param examples the number of examples
     */
    record Sums(NDArray inputs, long rows, NDArray outputGradients, long examples) {}

    /**
     * The statistics of the sampled-label pass on a batch, summed over wherever its examples are.
     *
     * @param samples the curvature batch with the labels the {@code draw} function gave
     * @param layers the dotted names of the K-FAC layers
     * @param manager owns the results
     * @return per layer name, its sums
     */
    Map<String, Sums> kroneckerSums(LabeledBatch samples, List<String> layers, NDManager manager);

    /**
     * The sums of the sampled-label pass on a local model (K-FAC's own pass: labels drawn from the
     * model, backward of the batch-mean nll, rows of the recording layers).
     *
     * @param model the network (its K-FAC layers must record: RecordingLinear, RecordingConv2d)
     * @param draw samples labels from the model
     * @param nll the batch-mean loss
     * @param batch the examples (labels are drawn for them)
     * @param layers the dotted names of the layers
     * @param manager owns the results
     * @return per layer name, its sums
     */
    static Map<String, Sums> localSums(Block model, DrawFunction draw, NllFunction nll,
            LabeledBatch batch, List<String> layers, NDManager manager) {
        Map<String, Sums> out = new LinkedHashMap<>();
        try (NDManager sub = manager.newSubManager(); Scope scope = Scope.open(sub)) {
            LayerGroups groups = new LayerGroups(model, layers, List.of(), sub, false);
            groups.startRecording();
            try (ai.fishleg.core.GuardedPass pass =
                    ai.fishleg.core.GuardedPass.open(model, groups.trainable, scope)) {
                LabeledBatch samples = draw.draw(model, batch.data());
                groups.clearRecords();
                pass.backward(nll, samples);
                long n = samples.size();
                for (KroneckerFactoredBlock block : groups.blocks()) {
                    KroneckerFactoredBlock.Rows rows =
                            block.rows(LayerRecords.passes(block.getLayer()), scope);
                    if (rows == null) {
                        throw new IllegalStateException("layer " + block.getName()
                                + " recorded no training-mode pass");
                    }
                    NDArray x = rows.inputs();
                    NDArray g = rows.outputGradients();
                    NDArray a = Scope.keep(x.transpose().matMul(x), manager);
                    // the pass's nll is a mean over n examples: each row is e/n
                    NDArray gg = Scope.keep(
                            Tensors.mulConst(g.transpose().matMul(g), (double) n * n), manager);
                    out.put(block.getName(), new Sums(a, rows.count(), gg, n));
                }
            } finally {
                groups.stopRecording();
                groups.clearRecords();
            }
        }
        return out;
    }

    /**
     * The next factors of every K-FAC layer from remote sums (the statistics pass of {@link
     * RecordedPasses} when its loss is remote).
     */
    static void nextFactors(RemoteStatistics remote, LabeledBatch samples, LayerGroups groups,
            NDList[] factors, double statDecay, FactorInit init, Scope scope) {
        List<String> names = new ArrayList<>();
        for (KroneckerFactoredBlock block : groups.blocks()) {
            names.add(block.getName());
        }
        Map<String, Sums> sums = remote.kroneckerSums(samples, names, scope.manager());
        for (int gi = 0; gi < groups.list.size(); gi++) {
            KroneckerFactoredBlock block = groups.list.get(gi).block;
            if (block == null) {
                continue;
            }
            Sums s = sums.get(block.getName());
            if (s == null || s.rows() == 0 || s.examples() == 0) {
                throw new IllegalStateException("the remote statistics have no rows for layer "
                        + block.getName() + "; every K-FAC layer needs its sums");
            }
            factors[gi] = block.nextFactors(
                    scope.own(Tensors.mulConst(s.inputs(), 1.0 / s.rows())),
                    scope.own(Tensors.mulConst(s.outputGradients(), 1.0 / s.examples())),
                    statDecay, init, scope);
        }
    }
}
