package ai.fishleg.cli;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.TypeConversionException;

/**
 * The one reader of options whose value is one of a fixed set of names: every enum option (the
 * optimizer, the initial weights, FishLeg's estimator, the bench clock, ...) and {@code --task}.
 * Names are matched ignoring case, and '-' and '_' ({@code thread-cpu} is {@code thread_cpu});
 * a wrong one gets a message that lists the right ones.
 *
 * @param <T> the type of the values
 */
class ChoiceConverter<T> implements ITypeConverter<T>, Iterable<String> {

    private final String noun;
    private final Map<String, T> byKey = new LinkedHashMap<>();
    private final List<String> names;

    /**
     * @param noun what a value is, for the message ("task", "value")
     * @param names the names, in the order the message lists them
     * @param lookup the value of each name
     */
    ChoiceConverter(String noun, List<String> names, Function<String, T> lookup) {
        this.noun = noun;
        this.names = List.copyOf(names);
        for (String name : names) {
            if (byKey.put(key(name), lookup.apply(name)) != null) {
                throw new IllegalArgumentException("two choices read alike: " + names);
            }
        }
    }

    /**
     * @param type an enum
     * @param <E> the enum
     * @return a converter of its constants, named in lower case ({@code THREAD_CPU} is {@code thread_cpu})
     */
    static <E extends Enum<E>> ChoiceConverter<E> ofEnum(Class<E> type) {
        Map<String, E> byName = new LinkedHashMap<>();
        for (E e : type.getEnumConstants()) {
            byName.put(e.name().toLowerCase(Locale.ROOT), e);
        }
        return new ChoiceConverter<>("value", List.copyOf(byName.keySet()), byName::get);
    }

    /**
     * Makes every enum option of the command and its subcommands (present and future ones: the
     * types are found by walking the commands) read through {@link #ofEnum}.
     *
     * @param commandLine the root command, with its subcommands added
     */
    static void registerEnums(CommandLine commandLine) {
        registerEnums(commandLine, commandLine);
    }

    private static void registerEnums(CommandLine root, CommandLine command) {
        for (ArgSpec arg : command.getCommandSpec().args()) {
            register(root, arg.type());
            for (Class<?> t : arg.auxiliaryTypes()) {
                register(root, t);
            }
        }
        for (CommandLine sub : command.getSubcommands().values()) {
            registerEnums(root, sub);
        }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static void register(CommandLine root, Class<?> type) {
        if (type != null && type.isEnum()) {
            root.registerConverter((Class) type, ofEnum((Class) type));
        }
    }

    @Override
    public T convert(String value) {
        T v = byKey.get(key(value));
        if (v == null) {
            throw new TypeConversionException(
                    "unknown " + noun + " '" + value + "'; choose from " + String.join(", ", names));
        }
        return v;
    }

    /** The names, as completion candidates. */
    @Override
    public Iterator<String> iterator() {
        return names.iterator();
    }

    private static String key(String name) {
        return name.trim().toLowerCase(Locale.ROOT).replace('-', '_');
    }
}
