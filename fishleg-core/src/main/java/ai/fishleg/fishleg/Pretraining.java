package ai.fishleg.fishleg;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.fishleg.data.BatchSource;
import ai.fishleg.likelihood.FisherLabels;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learning λ without moving the parameters, for example on a pre-training task before
 * fine-tuning: each iteration stores u ← ∇loss on a random batch (minus the gradient on a second
 * batch when asked) and runs one auxiliary update. The model's gradients and running statistics
 * are left as they were.
 */
final class Pretraining {

    private static final Logger LOG = LoggerFactory.getLogger(Pretraining.class);

    private final Hyperparameters hp;
    private final List<BlockState> blocks;
    private final ModelPasses model;
    private final AuxiliaryUpdate aux;
    private final NDManager manager;

    /**
     * @param hp the settings (normalization)
     * @param blocks the managed blocks
     * @param model the model's passes
     * @param aux the auxiliary update
     * @param manager the optimizer's manager
     */
    Pretraining(Hyperparameters hp, List<BlockState> blocks, ModelPasses model,
            AuxiliaryUpdate aux, NDManager manager) {
        this.hp = hp;
        this.blocks = blocks;
        this.model = model;
        this.aux = aux;
        this.manager = manager;
    }

    /**
     * See {@link FishLeg#pretrainFish(BatchSource, NllFunction, int, PretrainOptions)}.
     *
     * @param data batches for u
     * @param loss the loss whose gradient is u
     * @param iterations number of auxiliary updates, >= 0
     * @param options the direction u, the labels, the progress logged
     * @return per iteration, auxLoss + ½·linearTerm
     */
    List<Double> run(BatchSource data, NllFunction loss, int iterations, PretrainOptions options) {
        if (iterations < 0) {
            throw new IllegalArgumentException("iterations must be >= 0, got " + iterations);
        }
        PretrainOptions.Direction direction = options.direction();
        FisherLabels labels = options.labels();
        List<Double> out = new ArrayList<>(iterations);
        double checkSum = 0;
        for (int it = 0; it < iterations; it++) {
            storeBatchGradient(data, loss, direction);
            AuxInfo info = aux.update(AuxMode.LEARN, labels, null).info();
            double lin = hp.normalization() && info.g2() > 0
                    ? info.linearTerm() / info.g2() : info.linearTerm();
            out.add(info.auxLoss() + 0.5 * lin);
            checkSum += info.check();
            if (options.progress().isPresent() && it % options.progress().get().every() == 0) {
                PretrainOptions.Progress progress = options.progress().get();
                String test = "";
                if (progress.testData().isPresent()) {
                    double testCheck = 0;
                    for (int t = 0; t < 100; t++) {
                        storeBatchGradient(progress.testData().get(), loss, direction);
                        testCheck += aux.update(AuxMode.EVALUATE, labels, null).info().check();
                    }
                    test = String.format(", test check %.6g", testCheck / 100);
                }
                LOG.info(
                        "pretrainFish {}: train check {}{}; last {}",
                        it, checkSum / (it == 0 ? 1 : progress.every()), test, info);
                checkSum = 0;
            }
        }
        return out;
    }

    /** u ← ∇loss(batch) [− ∇loss(batch')], leaving the model's gradients as they were. */
    private void storeBatchGradient(
            BatchSource data, NllFunction loss, PretrainOptions.Direction direction) {
        int passes = direction == PretrainOptions.Direction.GRADIENT_DIFFERENCE ? 2 : 1;
        for (BlockState g : blocks) {
            g.forgetFactors();
        }
        try (Scope scope = Scope.open(manager);
                ModelPasses.Isolation isolated = model.isolate(scope, true)) {
            for (int pass = 0; pass < passes; pass++) {
                model.backward(loss, data.next(scope.manager()), scope);
                for (BlockState g : blocks) {
                    List<NDArray> params = g.block().getParameterArrays();
                    for (int i = 0; i < params.size(); i++) {
                        NDArray grad = ModelPasses.gradientOf(params.get(i), scope);
                        if (pass == 0) {
                            Tensors.assign(g.u().get(i), grad);
                        } else {
                            g.u().get(i).subi(grad);
                        }
                    }
                }
            }
        }
    }
}
