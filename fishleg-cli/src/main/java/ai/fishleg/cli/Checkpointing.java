package ai.fishleg.cli;

import java.nio.file.Path;

/**
 * The checkpoint options of {@code train}: where to save, how often, and what to resume from.
 *
 * @param save the checkpoint written at the end of the run (and every {@code saveEvery} steps), or
 *     null
 * @param saveEvery also save after every this many steps (counted from the start of training,
 *     across resumes), or 0 for only at the end
 * @param resume the checkpoint to continue from, or null to start afresh
 */
record Checkpointing(Path save, long saveEvery, Path resume) {

    /** No checkpoints (compare and demo). */
    static final Checkpointing NONE = new Checkpointing(null, 0, null);

    Checkpointing {
        if (saveEvery < 0) {
            throw new IllegalArgumentException("--save-every must be positive, got " + saveEvery);
        }
        if (saveEvery > 0 && save == null) {
            throw new IllegalArgumentException(
                    "--save-every " + saveEvery + " needs --save FILE (the checkpoint it rewrites)");
        }
    }

    /** @return whether anything is saved or resumed */
    boolean active() {
        return save != null || resume != null;
    }

    /**
     * @param step steps completed
     * @return whether a periodic checkpoint is due after this step
     */
    boolean periodicSaveAt(long step) {
        return save != null && saveEvery > 0 && step % saveEvery == 0;
    }
}
