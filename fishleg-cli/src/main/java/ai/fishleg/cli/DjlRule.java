package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import ai.fishleg.tasks.BaselineSettings;
import ai.fishleg.util.Scope;
import ai.fishleg.util.Tensors;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A DJL optimizer ({@code Optimizer.adam()} or {@code Optimizer.sgd()}) driven by hand, parameter
 * by parameter, as DJL's own {@code ParameterStore.updateAllParameters()} does.
 */
final class DjlRule implements StepRule {

    private final Optimizer optimizer;
    private final List<Parameter> parameters = new ArrayList<>();
    private final NDManager manager;
    private final Map<String, Object> hyperparameters = new LinkedHashMap<>();

    /**
     * @param kind ADAM or SGD
     * @param model the initialised network
     * @param settings learning rate, momentum (SGD), weight decay
     */
    DjlRule(OptimizerKind kind, Block model, BaselineSettings settings) {
        float lr = (float) settings.lr();
        float wd = (float) settings.weightDecay();
        hyperparameters.put("lr", settings.lr());
        if (kind == OptimizerKind.ADAM) {
            // set rather than left to DJL's defaults, so that the values recorded are the values in force
            optimizer = Optimizer.adam()
                    .optLearningRateTracker(Tracker.fixed(lr))
                    .optBeta1((float) BaselineSettings.ADAM_BETA1)
                    .optBeta2((float) BaselineSettings.ADAM_BETA2)
                    .optEpsilon((float) BaselineSettings.ADAM_EPS)
                    .optWeightDecays(wd)
                    .build();
            hyperparameters.put("beta1", BaselineSettings.ADAM_BETA1);
            hyperparameters.put("beta2", BaselineSettings.ADAM_BETA2);
            hyperparameters.put("eps", BaselineSettings.ADAM_EPS);
        } else if (kind == OptimizerKind.SGD) {
            optimizer = Optimizer.sgd()
                    .setLearningRateTracker(Tracker.fixed(lr))
                    .optMomentum((float) settings.momentum())
                    .optWeightDecays(wd)
                    .build();
            hyperparameters.put("momentum", settings.momentum());
        } else {
            throw new IllegalArgumentException(kind + " is not a DJL optimizer");
        }
        hyperparameters.put("weightDecay", settings.weightDecay());
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getValue().requiresGradient()) {
                parameters.add(p.getValue());
            }
        }
        this.manager = parameters.get(0).getArray().getManager();
    }

    @Override
    public void zeroGrad() {
        try (Scope scope = Scope.open(manager)) {
            for (Parameter p : parameters) {
                Tensors.zero(scope.own(p.getArray().getGradient()));
            }
        }
    }

    @Override
    public void step() {
        try (Scope scope = Scope.open(manager)) {
            for (Parameter p : parameters) {
                NDArray weight = p.getArray();
                optimizer.update(p.getId(), weight, scope.own(weight.getGradient()));
            }
        }
    }

    @Override
    public Map<String, Object> hyperparameters() {
        return hyperparameters;
    }

    @Override
    public void close() {
        // Nothing to free here: DJL keeps the optimizer's moments detached from every manager
        // (Optimizer.withDefaultState) and offers no way to release them, so they stay allocated
        // until the process ends (two arrays the size of the model per Adam run).
    }
}
