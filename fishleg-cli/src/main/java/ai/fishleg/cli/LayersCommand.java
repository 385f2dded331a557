package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.fishleg.layers.CurvatureBlock;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.optim.FishLeg;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg layers}: which layers of a task's network FishLeg manages, and how big Q is. */
@Command(name = "layers", mixinStandardHelpOptions = true,
        description = "List the layers of the task's network that FishLeg manages, with the size of"
                + " each block of Q (parameters P: Q is P x P) and of its auxiliary parameters λ,"
                + " and the parameters it does not manage.")
final class LayersCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--task", paramLabel = "TASK", defaultValue = "curves-autoencoder",
            converter = TaskConverter.class, completionCandidates = TaskConverter.class,
            description = "One of: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Task task;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (NDManager manager = NDManager.newBaseManager()) {
            Block model = task.newModel();
            ModelInit.initialize(model, manager, LoadedData.DATA_TYPE, task.inputShape(1), 0);
            FishLikelihood likelihood = task.newLikelihood();
            // Listing needs no auxiliary batch: FishLeg asks for one only when it updates Q.
            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), NllFunction.of(likelihood),
                            m -> {
                                throw new IllegalStateException("layers does not train");
                            })
                    .likelihood(likelihood)
                    .build()) {
                print(out, model, opt);
            }
        }
        out.flush();
        return 0;
    }

    private void print(PrintWriter out, Block model, FishLeg opt) {
        out.printf("%s: %s%n%n", task.name(), task.summary());
        out.printf("%-12s %-8s %-12s %12s %14s %26s  %s%n", "layer", "type", "block",
                "parameters", "λ size", "Q block (dense)", "λ tensors");
        long params = 0;
        long aux = 0;
        for (CurvatureBlock b : opt.getBlocks()) {
            long p = b.parameterSize();
            params += p;
            aux += b.auxSize();
            String type = b.getLayer() == null ? "-" : b.getLayer().getClass().getSimpleName();
            out.printf(Locale.ROOT, "%-12s %-8s %-12s %,12d %,14d %26s  %s%n", b.getName(), type,
                    b.getClass().getSimpleName(), p, b.auxSize(), String.format(Locale.ROOT, "%,d x %,d", p, p),
                    tensors(b.getAuxParameters()));
        }
        out.printf(Locale.ROOT, "%nFishLeg manages %d layer(s): %,d parameters, %,d auxiliary parameters λ"
                        + " (a dense Q would have %,.0f entries).%n",
                opt.getBlocks().size(), params, aux, sumOfSquares(opt.getBlocks()));
        List<String> unmanaged = opt.getUnmanagedParameters();
        if (unmanaged.isEmpty()) {
            out.println("Every trainable parameter of the network is managed.");
        } else {
            out.println();
            out.println("Not managed (FishLeg4J has no curvature block for these layer types yet; FishLeg"
                    + " would leave them at their initial values, so train refuses FishLeg on this task):");
            for (String name : unmanaged) {
                out.printf(Locale.ROOT, "  %-40s %s%n", name, shape(model, name));
            }
        }
    }

    private static double sumOfSquares(List<CurvatureBlock> blocks) {
        double s = 0;
        for (CurvatureBlock b : blocks) {
            s += (double) b.parameterSize() * b.parameterSize();
        }
        return s;
    }

    private static String tensors(Map<String, NDArray> aux) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : aux.entrySet()) {
            parts.add(e.getKey() + " " + dims(e.getValue()));
        }
        return String.join(", ", parts);
    }

    private static String shape(Block model, String parameterName) {
        for (Pair<String, Parameter> p : model.getParameters()) {
            if (p.getKey().equals(parameterName)) {
                return dims(p.getValue().getArray());
            }
        }
        return "";
    }

    private static String dims(NDArray a) {
        long[] s = a.getShape().getShape();
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length; i++) {
            b.append(i == 0 ? "" : "x").append(s[i]);
        }
        return s.length == 0 ? "scalar" : b.toString();
    }
}
