package ai.fishleg.bench;

import com.google.gson.GsonBuilder;
import com.google.gson.annotations.SerializedName;
import java.util.Arrays;
import java.util.Locale;

/**
 * The numbers of one {@link StepBenchmark} run, as written to JSON (snake_case keys). Times are
 * medians over the measured rounds, in milliseconds per training step; FLOPs are per step.
 *
 * @param task the task's name
 * @param adamMs DJL Adam step
 * @param fishlegMs FishLeg step, full Kronecker Q, auxiliary update amortised
 * @param fishlegSpeedupMs FishLeg step with batchSpeedup
 * @param fishlegOverAdam ratio
 * @param fishlegSpeedupOverAdam ratio
 * @param floorMs Adam's step plus FishLeg's extra FLOPs (Qv + amortised auxiliary update) at the
 *     matrix-product ceiling
 * @param fishlegOverFloor ratio
 * @param qvMs one Qv over all blocks (full Q), timed alone
 * @param qvGflops its achieved throughput
 * @param matmulMs the reference n x n x n product
 * @param matmulGflops its throughput (the ceiling)
 * @param qvOverMatmul qvGflops / matmulGflops
 * @param auxMs the auxiliary update amortised per step (full Q)
 * @param shareQv qvMs / fishlegMs
 * @param shareAux auxMs / fishlegMs
 * @param shareRest the remainder (forward, backward, elementwise work, overheads)
 * @param speedupAuxMs the auxiliary update amortised per step with batchSpeedup
 * @param speedupFloorMs the floor of the batchSpeedup step
 * @param flops FLOP counts
 * @param window steps per window (the auxiliary period)
 * @param rounds measured rounds
 * @param warmupRounds discarded rounds
 * @param matmulSize n of the reference product
 * @param clock what was timed (WALL or THREAD_CPU)
 * @param machine what it ran on
 * @param raw per-round values
 */
public record BenchResult(
        String task,
        @SerializedName("adam_ms") double adamMs,
        @SerializedName("fishleg_ms") double fishlegMs,
        @SerializedName("fishleg_speedup_ms") double fishlegSpeedupMs,
        @SerializedName("fishleg_over_adam") double fishlegOverAdam,
        @SerializedName("fishleg_speedup_over_adam") double fishlegSpeedupOverAdam,
        @SerializedName("floor_ms") double floorMs,
        @SerializedName("fishleg_over_floor") double fishlegOverFloor,
        @SerializedName("qv_ms") double qvMs,
        @SerializedName("qv_gflops") double qvGflops,
        @SerializedName("matmul_ms") double matmulMs,
        @SerializedName("matmul_gflops") double matmulGflops,
        @SerializedName("qv_over_matmul") double qvOverMatmul,
        @SerializedName("aux_ms") double auxMs,
        @SerializedName("share_qv") double shareQv,
        @SerializedName("share_aux") double shareAux,
        @SerializedName("share_rest") double shareRest,
        @SerializedName("speedup_aux_ms") double speedupAuxMs,
        @SerializedName("speedup_floor_ms") double speedupFloorMs,
        Flop flops,
        int window,
        int rounds,
        @SerializedName("warmup_rounds") int warmupRounds,
        @SerializedName("matmul_size") int matmulSize,
        String clock,
        MachineInfo machine,
        Raw raw) {

    /**
     * FLOPs per training step.
     *
     * @param forwardBackward forward and backward passes of the managed layers
     * @param qv one Qv (full Q)
     * @param auxAmortised the auxiliary update's products and model passes, divided by the period
     * @param speedupQv one natural gradient with batchSpeedup (Qg on recorded factors where
     *     that pays off)
     * @param speedupAuxAmortised the same with batchSpeedup
     */
    public record Flop(
            @SerializedName("forward_backward") double forwardBackward,
            double qv,
            @SerializedName("aux_amortised") double auxAmortised,
            @SerializedName("speedup_qv") double speedupQv,
            @SerializedName("speedup_aux_amortised") double speedupAuxAmortised) {}

    /**
     * Per-round measurements (milliseconds).
     *
     * @param adam Adam, per step
     * @param fishleg FishLeg full Q, per step
     * @param fishlegSpeedup FishLeg batchSpeedup, per step
     * @param fishlegAux full Q's auxiliary update, per step
     * @param fishlegSpeedupAux batchSpeedup's auxiliary update, per step
     * @param qv one Qv, full Q
     * @param matmul one reference product
     */
    public record Raw(
            double[] adam,
            double[] fishleg,
            @SerializedName("fishleg_speedup") double[] fishlegSpeedup,
            @SerializedName("fishleg_aux") double[] fishlegAux,
            @SerializedName("fishleg_speedup_aux") double[] fishlegSpeedupAux,
            double[] qv,
            double[] matmul) {}

    static BenchResult of(
            String task, StepBenchmark.Settings s, int window, MachineInfo machine, Raw raw,
            Flop flops, int matmulSize) {
        double adam = median(raw.adam());
        double full = median(raw.fishleg());
        double speedup = median(raw.fishlegSpeedup());
        double qv = median(raw.qv());
        double matmul = median(raw.matmul());
        double matmulGflops = 2.0 * matmulSize * matmulSize * matmulSize / (matmul * 1e6);
        double qvGflops = flops.qv() / (qv * 1e6);
        double aux = median(raw.fishlegAux());
        double floor = adam + (flops.qv() + flops.auxAmortised()) / (matmulGflops * 1e6);
        double speedupFloor =
                adam + (flops.speedupQv() + flops.speedupAuxAmortised()) / (matmulGflops * 1e6);
        return new BenchResult(task, adam, full, speedup, full / adam, speedup / adam, floor,
                full / floor, qv, qvGflops, matmul, matmulGflops, qvGflops / matmulGflops, aux,
                qv / full, aux / full, 1 - (qv + aux) / full,
                median(raw.fishlegSpeedupAux()), speedupFloor, flops, window, s.rounds(),
                s.warmupRounds(), matmulSize, s.clock().name(), machine, raw);
    }

    /**
     * @param values numbers (not modified)
     * @return their median
     */
    public static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }

    /** @return the result as indented JSON */
    public String toJson() {
        return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
                .create().toJson(this);
    }

    /** @return a human-readable summary */
    public String summary() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT,
                "%s, %d rounds of %d steps (median ms per step, auxiliary update amortised;"
                        + " %s time)%n",
                task, rounds, window, clock.toLowerCase(Locale.ROOT).replace('_', ' ')));
        b.append(String.format(Locale.ROOT, "  Adam                    %8.1f ms%n", adamMs));
        b.append(String.format(Locale.ROOT,
                "  FishLeg (full Q)        %8.1f ms   %.2f x Adam   %.2f x floor (%.1f ms)%n",
                fishlegMs, fishlegOverAdam, fishlegOverFloor, floorMs));
        b.append(String.format(Locale.ROOT,
                "  FishLeg (batchSpeedup)  %8.1f ms   %.2f x Adam   floor %.1f ms,"
                        + " auxiliary update %.1f ms/step%n",
                fishlegSpeedupMs, fishlegSpeedupOverAdam, speedupFloorMs, speedupAuxMs));
        b.append(String.format(Locale.ROOT,
                "  full Q: Qv %.1f ms (%.0f%%), auxiliary update %.1f ms/step (%.0f%%), rest %.0f%%%n",
                qvMs, 100 * shareQv, auxMs, 100 * shareAux, 100 * shareRest));
        b.append(String.format(Locale.ROOT,
                "  FLOP/step: forward+backward %.2f G, Qv %.2f G, auxiliary (amortised) %.2f G;"
                        + " batchSpeedup Qv %.2f G, auxiliary %.2f G%n",
                flops.forwardBackward() / 1e9, flops.qv() / 1e9, flops.auxAmortised() / 1e9,
                flops.speedupQv() / 1e9, flops.speedupAuxAmortised() / 1e9));
        b.append(String.format(Locale.ROOT,
                "  Qv %.1f GFLOP/s = %.0f%% of a plain %d³ product (%.1f GFLOP/s, %.2f ms)%n",
                qvGflops, 100 * qvOverMatmul, matmulSize, matmulGflops, matmulMs));
        b.append(String.format(Locale.ROOT, "  machine: %s, %d cores, %s threads, %s, %s, load %.2f%n",
                machine.cpu(), machine.cores(), machine.engineThreads(), machine.engine(),
                machine.java(), machine.loadAverage()));
        return b.toString();
    }
}
