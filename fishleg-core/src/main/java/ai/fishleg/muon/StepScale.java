package ai.fishleg.muon;

/** How Muon scales the orthogonalised update of a (rows × cols) weight matrix. */
public enum StepScale {
    /** Jordan et al.'s muon.py: √max(1, rows/cols), with lr 0.02. */
    ORIGINAL {
        @Override
        public double factor(long rows, long cols) {
            return Math.sqrt(Math.max(1.0, (double) rows / cols));
        }
    },
    /**
     * Moonlight's (Liu et al. 2025): 0.2·√max(rows, cols), which gives the update the root mean
     * square of a typical AdamW update, so that AdamW's learning rate carries over.
     */
    MATCH_ADAMW {
        @Override
        public double factor(long rows, long cols) {
            return 0.2 * Math.sqrt(Math.max(rows, cols));
        }
    };

    /**
     * @param rows rows of the weight matrix (output features or channels)
     * @param cols its columns (input features, or in-channels × kernel size)
     * @return the factor the orthogonalised update is multiplied by
     */
    public abstract double factor(long rows, long cols);
}
