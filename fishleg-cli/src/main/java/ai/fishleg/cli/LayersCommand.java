package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FishLikelihood;
import ai.fishleg.likelihood.NllFunction;
import ai.fishleg.select.LayerSelection;
import ai.fishleg.select.ManagedLayers.LayerDescription;
import ai.fishleg.tasks.ModelInit;
import ai.fishleg.tasks.Task;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fishleg layers}: which layers of a task's network FishLeg manages, and how big Q is. */
@Command(name = "layers", mixinStandardHelpOptions = true,
        description = "List the layers of the task's network that have parameters: whether FishLeg"
                + " manages each, the size of its block of Q (P parameters: Q is P x P) and of its"
                + " auxiliary parameters λ, with the shapes of the λ tensors.")
final class LayersCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    TaskOption taskOption;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        Task task = taskOption.task;
        try (NDManager manager = NDManager.newBaseManager()) {
            Block model = task.newModel();
            ModelInit.initialize(model, manager, LoadedData.DATA_TYPE, task.inputShape(1), task.init(), 0);
            List<LayerDescription> layers = FishLeg.describeLayers(model);
            FishLikelihood likelihood = task.newLikelihood();
            boolean anyManaged = layers.stream().anyMatch(LayerDescription::managed);
            if (!anyManaged) {
                print(out, task, layers, null);
            } else {
                // Only for the shapes of λ; listing needs no auxiliary batch (FishLeg asks for one
                // only when it updates Q).
                try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood),
                                NllFunction.of(likelihood), m -> {
                                    throw new IllegalStateException("layers does not train");
                                })
                        .build()) {
                    print(out, task, layers, opt);
                }
            }
        }
        out.flush();
        return 0;
    }

    private static void print(PrintWriter out, Task task, List<LayerDescription> layers, FishLeg opt) {
        out.printf("%s: %s%n%n", task.name(), task.summary());
        out.printf("%-12s %-10s %-8s %12s %14s %26s  %s%n", "layer", "type", "managed",
                "parameters", "λ size", "Q block (dense)", "λ tensors");
        long params = 0;
        long aux = 0;
        int managed = 0;
        long unmanaged = 0;
        for (LayerDescription d : layers) {
            String name = LayerSelection.displayName(d.name());
            if (d.managed()) {
                managed++;
                params += d.parameters();
                aux += d.auxParameters();
                out.printf(Locale.ROOT, "%-12s %-10s %-8s %,12d %,14d %26s  %s%n", name, d.type(), "yes",
                        d.parameters(), d.auxParameters(),
                        String.format(Locale.ROOT, "%,d x %,d", d.parameters(), d.parameters()),
                        tensors(opt.getBlock(d.name()).getAuxParameters()));
            } else {
                unmanaged += d.parameters();
                out.printf(Locale.ROOT, "%-12s %-10s %-8s %,12d %14s %26s%n", name, d.type(), "NO",
                        d.parameters(), "-", "-");
            }
        }
        out.printf(Locale.ROOT, "%nFishLeg manages %d layer(s): %,d parameters, %,d auxiliary parameters λ"
                        + " (a dense block-diagonal Q would have %,.0f entries).%n",
                managed, params, aux, sumOfSquares(layers));
        if (unmanaged == 0) {
            out.println("Every trainable parameter of the network is managed.");
        } else {
            out.printf(Locale.ROOT, "%,d parameters are in layers FishLeg4J has no curvature block for;"
                    + " FishLeg would leave them at their initial values, so train refuses FishLeg on"
                    + " this task.%n", unmanaged);
        }
    }

    private static double sumOfSquares(List<LayerDescription> layers) {
        double s = 0;
        for (LayerDescription d : layers) {
            if (d.managed()) {
                s += (double) d.parameters() * d.parameters();
            }
        }
        return s;
    }

    private static String tensors(Map<String, NDArray> aux) {
        List<String> parts = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : aux.entrySet()) {
            long[] s = e.getValue().getShape().getShape();
            StringBuilder dims = new StringBuilder();
            for (int i = 0; i < s.length; i++) {
                dims.append(i == 0 ? "" : "x").append(s[i]);
            }
            parts.add(e.getKey() + " " + (s.length == 0 ? "scalar" : dims));
        }
        return String.join(", ", parts);
    }
}
