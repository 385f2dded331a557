package ai.fishleg.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A folder a command will write into, created and tried before training starts, so that a run is
 * not lost at its end to a folder that cannot be created or written.
 */
final class WritableFolder {

    /** The folders {@link #prepare} created, innermost first. */
    private final List<Path> created;

    private WritableFolder(List<Path> created) {
        this.created = created;
    }

    /**
     * Creates the folder (with its parents) if needed, and writes and deletes a file in it.
     *
     * @param option the option that named it, for the message
     * @param folder the folder
     * @return the prepared folder
     * @throws IllegalArgumentException in one line, naming the option, the folder and the reason
     */
    static WritableFolder prepare(String option, Path folder) {
        List<Path> created = new ArrayList<>();
        for (Path p = folder.toAbsolutePath().normalize(); p != null && !Files.exists(p); p = p.getParent()) {
            created.add(p);
        }
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw new IllegalArgumentException(option + " " + folder + ": cannot create this folder ("
                    + reason(e) + "); choose another one", e);
        }
        try {
            Files.delete(Files.createTempFile(folder, ".fishleg-write-check", ".tmp"));
        } catch (IOException e) {
            new WritableFolder(created).removeIfUnused();
            throw new IllegalArgumentException(option + " " + folder + ": cannot write into this folder ("
                    + reason(e) + "); choose another one", e);
        }
        return new WritableFolder(created);
    }

    /**
     * Prepares the folder a file will be written into.
     *
     * @param option the option that named the file, for the message
     * @param file the file
     * @return its prepared folder
     * @throws IllegalArgumentException if the file is a folder, or its folder cannot be created or
     *     written
     */
    static WritableFolder prepareParent(String option, Path file) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(option + " " + file + " is a folder; give the name of a file");
        }
        Path parent = file.toAbsolutePath().getParent();
        return prepare(option, parent == null ? Path.of(".") : parent);
    }

    /** Removes the folders {@link #prepare} created, if nothing was written into them. */
    void removeIfUnused() {
        for (Path p : created) {
            try {
                Files.deleteIfExists(p); // fails, and stops, at the first folder that is not empty
            } catch (IOException e) {
                return;
            }
        }
    }

    /** The cause of a file-system error in a few words (the JDK's message is often just the path). */
    private static String reason(IOException e) {
        if (e instanceof FileAlreadyExistsException) {
            return "a file of that name, or of one of its parents, is in the way";
        }
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.toString();
    }
}
