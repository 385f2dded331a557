package ai.fishleg.fishleg;

import ai.djl.Device;
import ai.djl.nn.Block;
import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import java.util.Objects;

/**
 * What {@link FishLeg.Builder} takes besides the settings: the four required arguments of the
 * reference constructor, the likelihood, the warm-up's data and loss, and the device.
 *
 * @param <B> the builder type the setters return
 */
public abstract class FishLegInputs<B extends FishLegInputs<B>> extends HyperparameterSetters<B> {

    final Block model;
    final DrawFunction draw;
    final NllFunction nll;
    final BatchSource auxData;
    FishLikelihood likelihood;
    BatchSource warmupData;
    NllFunction warmupLoss;
    Device device;
    Object config;

    FishLegInputs(Block model, DrawFunction draw, NllFunction nll, BatchSource auxData) {
        this.model = Objects.requireNonNull(model, "model");
        this.draw = Objects.requireNonNull(draw, "draw");
        this.nll = Objects.requireNonNull(nll, "nll");
        this.auxData = Objects.requireNonNull(auxData, "auxData");
    }

    /**
     * @param v a likelihood; only used when it has learnable parameters, which then get their own
     *     curvature block
     * @return this
     */
    public B likelihood(FishLikelihood v) {
        this.likelihood = v;
        return self();
    }

    /** @param v batches for the warm-up ({@link #warmup(int)} > 0) @return this */
    public B warmupData(BatchSource v) {
        this.warmupData = v;
        return self();
    }

    /** @param v loss whose squared gradients the warm-up averages @return this */
    public B warmupLoss(NllFunction v) {
        this.warmupLoss = v;
        return self();
    }

    /** @param v device of the optimizer's state (default: that of the parameters) @return this */
    public B device(Device v) {
        this.device = v;
        return self();
    }

    /**
     * Exists for parity with the reference signature only: there {@code config} builds the
     * replacement of a HuggingFace BERT attention block, which FishLeg4J does not provide.
     *
     * @param v must be null (a non-null value is rejected when the optimizer is built)
     * @return this
     */
    public B config(Object v) {
        this.config = v;
        return self();
    }
}
