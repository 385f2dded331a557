package ai.fishleg.core;

import ai.djl.ndarray.NDArray;
import ai.fishleg.util.Rng;
import ai.fishleg.util.Tensors;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.LoggerFactory;

/**
 * What a {@link Checkpoint} saves of an optimizer and how it is restored: named tensors (written
 * and read in place) and string metadata for the scalar state. The optimizer's state holder
 * implements it, so that the checkpoint code never needs to know the optimizer.
 *
 * <p>A restore is in two phases so that nothing changes unless the whole file is good: the
 * checkpoint first validates its file and asks {@link #restorer} to parse the saved metadata
 * (which must throw, changing nothing, if it is unusable), then writes every tensor (through its
 * entry's {@code restore}), then runs the returned action.
 */
public interface CheckpointState {

    /**
     * One named tensor of the state.
     *
     * @param name its stable name in the file (for example {@code aux/01Linear/L})
     * @param array the live array, read on save (its shape and type are what a file must match)
     * @param restore writes a saved value back (for example through the owner's single write
     *     path, so that what is cached from it is dropped)
     */
    record Entry(String name, NDArray array, Consumer<NDArray> restore) {

        /**
         * An entry restored by copying the saved value into the live array.
         *
         * @param name its stable name in the file
         * @param array the live array: read on save, overwritten on restore
         */
        public Entry(String name, NDArray array) {
            this(name, array, value -> Tensors.assign(array, value));
        }
    }

    /** @return every tensor of the state, in a fixed order */
    List<Entry> tensors();

    /** @return the scalar state (counters, generator states, settings), as strings */
    Map<String, String> metadata();

    /**
     * Parses saved scalar state without changing anything.
     *
     * @param metadata what {@link #metadata()} returned when the checkpoint was saved
     * @return sets the scalar state; run once every tensor has been restored
     * @throws IllegalArgumentException naming what is missing or malformed
     */
    Runnable restorer(Map<String, String> metadata);

    /**
     * Sets each generator to its saved state; one that the checkpoint has no state for continues
     * from its current state, and the log says so.
     *
     * @param generators the optimizer's generators by name
     * @param saved the saved states by name
     */
    static void restoreGenerators(Map<String, Rng> generators, Map<String, Long> saved) {
        for (Map.Entry<String, Rng> e : generators.entrySet()) {
            Long state = saved.get(e.getKey());
            if (state == null) {
                LoggerFactory.getLogger(CheckpointState.class).warn("checkpoint has no state for"
                        + " random generator '{}'; it continues from its current state", e.getKey());
            } else {
                e.getValue().setState(state);
            }
        }
    }
}
