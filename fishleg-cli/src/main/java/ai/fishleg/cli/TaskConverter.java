package ai.fishleg.cli;

import ai.fishleg.tasks.Task;
import ai.fishleg.tasks.Tasks;
import java.util.Iterator;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Reads {@code --task NAME}; the help lists the names. */
final class TaskConverter implements ITypeConverter<Task>, Iterable<String> {

    @Override
    public Task convert(String value) {
        try {
            return Tasks.get(value);
        } catch (IllegalArgumentException e) {
            throw new TypeConversionException(e.getMessage());
        }
    }

    /** The task names, as completion candidates. */
    @Override
    public Iterator<String> iterator() {
        return Tasks.names().iterator();
    }
}
