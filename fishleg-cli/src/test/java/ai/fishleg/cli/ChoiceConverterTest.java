package ai.fishleg.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.fishleg.tasks.Tasks;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.TypeConversionException;

class ChoiceConverterTest {

    private enum Sample { WALL, THREAD_CPU }

    @Test
    void namesAreReadIgnoringCaseAndDashesAndAWrongOneListsTheRightOnes() {
        ChoiceConverter<Sample> c = ChoiceConverter.ofEnum(Sample.class);
        assertThat(c.convert("wall")).isEqualTo(Sample.WALL);
        assertThat(c.convert(" Thread-CPU ")).isEqualTo(Sample.THREAD_CPU);
        assertThat(c.convert("thread_cpu")).isEqualTo(Sample.THREAD_CPU);
        assertThat(c).containsExactly("wall", "thread_cpu");
        assertThatThrownBy(() -> c.convert("cpu"))
                .isInstanceOf(TypeConversionException.class)
                .hasMessage("unknown value 'cpu'; choose from wall, thread_cpu");
    }

    @Test
    void tasksAreChoicesToo() {
        TaskConverter c = new TaskConverter();
        assertThat(c.convert("FMNIST-MLP")).isSameAs(Tasks.get("fmnist-mlp"));
        assertThat(c).containsExactlyElementsOf(Tasks.names());
        assertThatThrownBy(() -> c.convert("cifar10")).hasMessageStartingWith("unknown task 'cifar10'; choose from "
                + String.join(", ", Tasks.names()));
    }

    /** @return the value of the option after parsing {@code command option value} */
    private static Object parsed(String command, String option, String value) {
        CommandLine root = new CommandLine(new Main());
        ChoiceConverter.registerEnums(root);
        root.parseArgs(command, option, value);
        return root.getSubcommands().get(command).getCommandSpec().findOption(option).getValue();
    }

    /** Every enum option of every command, whatever its type, reads through the one converter. */
    @Test
    void everyEnumOptionOfTheCommandLineReadsThroughIt() {
        CommandLine root = new CommandLine(new Main());
        int checked = 0;
        for (CommandLine command : root.getSubcommands().values()) {
            for (OptionSpec o : command.getCommandSpec().options()) {
                Class<?> type = o.isMultiValue() ? o.auxiliaryTypes()[0] : o.type();
                if (!type.isEnum()) {
                    continue;
                }
                String expected = String.join(", ", Arrays.stream(type.getEnumConstants())
                        .map(e -> ((Enum<?>) e).name().toLowerCase(Locale.ROOT)).toList());
                String name = command.getCommandName();
                assertThatThrownBy(() -> parsed(name, o.longestName(), "no-such-value"))
                        .as("%s %s", name, o.longestName())
                        .isInstanceOf(ParameterException.class)
                        .hasMessageContaining("unknown value 'no-such-value'; choose from " + expected);
                Enum<?> first = (Enum<?>) type.getEnumConstants()[0];
                Object value = parsed(name, o.longestName(), first.name().toLowerCase(Locale.ROOT).replace('_', '-'));
                assertThat(value instanceof List<?> l ? l.get(0) : value).as("%s %s", name, o.longestName())
                        .isEqualTo(first);
                checked++;
            }
        }
        // at least --optimizer, --optimizers, --init (three commands), --estimator, --u-sampling, --clock
        assertThat(checked).isGreaterThanOrEqualTo(8);
    }
}
