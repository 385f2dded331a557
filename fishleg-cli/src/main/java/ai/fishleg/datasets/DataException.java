package ai.fishleg.datasets;

/**
 * A data set could not be read: a file is missing, truncated or not in the expected format. The
 * message names the file and what is wrong with it, so that it can be shown to the user as is.
 */
public class DataException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, naming the file */
    public DataException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file
     * @param cause the underlying error
     */
    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}
