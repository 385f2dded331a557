package ai.fishleg.util;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * A short-lived sub-manager that owns every temporary array of one computation.
 *
 * <p>DJL attaches the result of an operation to the manager of its first operand. Long-lived
 * arrays (parameters, λ, momentum buffers) would therefore collect temporaries. A scope {@linkplain
 * #use temporarily attaches} such arrays, so that results of operations on them land in the scope
 * and are freed when it closes, while the long-lived arrays return to their own managers. Results
 * that must outlive the scope are {@linkplain #keep kept} by attaching them elsewhere.
 */
public final class Scope implements AutoCloseable {

    private final NDManager manager;

    private Scope(NDManager manager) {
        this.manager = manager;
    }

    /**
     * @param parent the manager under which the scope is created
     * @return a new scope
     */
    public static Scope open(NDManager parent) {
        return new Scope(parent.newSubManager());
    }

    /** @return the scope's manager, for creating arrays that die with it */
    public NDManager manager() {
        return manager;
    }

    /**
     * Temporarily attaches a long-lived array to this scope (it returns to its manager on close).
     *
     * @param array the array
     * @return the same array
     */
    public NDArray use(NDArray array) {
        if (array != null) {
            array.tempAttach(manager);
        }
        return array;
    }

    /**
     * Temporarily attaches every array of a list.
     *
     * @param arrays the arrays
     * @return the same list
     */
    public NDList use(NDList arrays) {
        for (NDArray a : arrays) {
            use(a);
        }
        return arrays;
    }

    /**
     * Attaches an array for good to this scope, so that it is closed with it.
     *
     * @param array a temporary array created elsewhere
     * @return the same array
     */
    public NDArray own(NDArray array) {
        array.attach(manager);
        return array;
    }

    /**
     * Moves a result out of the scope, to a manager that outlives it.
     *
     * @param array the result
     * @param target its new owner
     * @return the same array
     */
    public static NDArray keep(NDArray array, NDManager target) {
        array.attach(target);
        return array;
    }

    /**
     * Moves every array of a list out of the scope.
     *
     * @param arrays the results
     * @param target their new owner
     * @return the same list
     */
    public static NDList keep(NDList arrays, NDManager target) {
        arrays.attach(target);
        return arrays;
    }

    @Override
    public void close() {
        manager.close();
    }
}
