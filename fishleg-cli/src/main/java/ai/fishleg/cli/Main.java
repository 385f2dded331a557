package ai.fishleg.cli;

import ai.fishleg.datasets.DataException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code fishleg} command: train and compare FishLeg, Adam and SGD on real data. */
@Command(
        name = "fishleg",
        mixinStandardHelpOptions = true,
        version = "fishleg 0.1.0 (FishLeg4J)",
        description = "Train and compare the FishLeg optimizer with Adam and SGD on built-in tasks,"
                + " with progress, metrics (CSV, JSON) and plots (PNG).",
        subcommands = {
            DemoCommand.class,
            TrainCommand.class,
            CompareCommand.class,
            TuneCommand.class,
            LayersCommand.class,
            BenchCommand.class,
            PruneCommand.class,
            CommandLine.HelpCommand.class
        },
        footer = {"", "Start with: fishleg demo      (no download needed, a few minutes on 2 cores)"})
public final class Main implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    /** Without a subcommand: print the usage. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /**
     * Runs the command and exits with its code.
     *
     * @param args command-line arguments
     */
    public static void main(String[] args) {
        int code = execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
        System.exit(code);
    }

    /**
     * Runs the command.
     *
     * @param out standard output
     * @param err standard error
     * @param args command-line arguments
     * @return the exit code: 0 success, 1 a run diverged or an unexpected error, 2 bad usage or data
     */
    public static int execute(PrintWriter out, PrintWriter err, String... args) {
        System.setProperty("java.awt.headless", "true");
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        ChoiceConverter.registerEnums(cl);
        cl.setExecutionExceptionHandler((e, command, parsed) -> {
            if (e instanceof IllegalArgumentException || e instanceof DataException
                    || e instanceof UnsupportedOperationException) {
                err.println("fishleg " + command.getCommandName() + ": " + e.getMessage());
                err.flush();
                return 2;
            }
            throw e;
        });
        return cl.execute(args);
    }
}
