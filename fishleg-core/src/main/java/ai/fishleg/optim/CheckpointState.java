package ai.fishleg.optim;

import ai.djl.ndarray.NDArray;
import java.util.List;
import java.util.Map;

/**
 * What a {@link Checkpoint} saves of an optimizer and how it is restored: named tensors (written
 * and read in place) and string metadata for the scalar state. The optimizer's state holder
 * implements it, so that the checkpoint code never needs to know the optimizer.
 *
 * <p>A restore is in two phases so that nothing changes unless the whole file is good: the
 * checkpoint first validates its file and asks {@link #restorer} to parse the saved metadata
 * (which must throw, changing nothing, if it is unusable), then writes every tensor, then runs
 * the returned action.
 */
public interface CheckpointState {

    /**
     * One named tensor of the state.
     *
     * @param name its stable name in the file (for example {@code aux/01Linear/L})
     * @param array the live array: read on save, overwritten on restore
     */
    record Entry(String name, NDArray array) {}

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
}
