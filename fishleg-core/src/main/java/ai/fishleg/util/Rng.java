package ai.fishleg.util;

/**
 * A small, fast, explicitly seeded random generator (SplitMix64) whose whole state is one
 * {@code long}, so that draws are reproducible and can be checkpointed exactly.
 *
 * <p>FishLeg4J uses it instead of the engine's global generator: samples drawn by likelihoods, the
 * random batches of auxiliary data sources and random initialisations then depend only on their own
 * seeds, not on which engine runs the tensors or what else used the engine's generator.
 */
public final class Rng {

    private long state;

    /**
     * Creates a generator.
     *
     * @param seed the seed; equal seeds give equal sequences
     */
    public Rng(long seed) {
        this.state = seed;
    }

    /** @return the complete state, for checkpoints (see {@link #setState(long)}) */
    public long getState() {
        return state;
    }

    /** @param state a state previously returned by {@link #getState()} */
    public void setState(long state) {
        this.state = state;
    }

    /** @return the next 64 random bits */
    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** @return a uniform double in [0, 1) with 53 random bits */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /**
     * @param bound exclusive upper bound, positive
     * @return a uniform integer in [0, bound)
     */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive, got " + bound);
        }
        // Lemire's multiply-shift with rejection: unbiased.
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x100000000L - bound) % bound;
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** @return a standard normal sample (Box-Muller; one sample per two uniforms) */
    public double nextGaussian() {
        double u1 = 1.0 - nextDouble(); // (0, 1]: log is finite
        double u2 = nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /**
     * Fills an array with standard normal samples.
     *
     * @param n how many
     * @return the samples
     */
    public double[] gaussians(int n) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = nextGaussian();
        }
        return out;
    }

    /**
     * Fills an array with uniform samples in [0, 1).
     *
     * @param n how many
     * @return the samples
     */
    public double[] uniforms(int n) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = nextDouble();
        }
        return out;
    }

    /**
     * Draws {@code k} distinct indices from [0, n) uniformly (partial Fisher-Yates shuffle), the
     * first batch of a fresh random permutation.
     *
     * @param n population size
     * @param k sample size, at most n
     * @return the indices, in random order
     */
    public int[] sampleWithoutReplacement(int n, int k) {
        if (k > n || k < 0) {
            throw new IllegalArgumentException("cannot draw " + k + " distinct indices from " + n);
        }
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return java.util.Arrays.copyOf(perm, k);
    }
}
