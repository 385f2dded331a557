package ai.fishleg.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;
import ai.fishleg.tasks.Task;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A counting tool (not a timer): with {@code -Dfishleg.opProfile=FROM:COUNT} (for example through
 * {@code FISHLEG_JAVA_OPTS}), the training loop's optimizer is wrapped so that steps FROM to
 * FROM+COUNT−1 (counted from 0, per optimizer) run under PyTorch's own profiler, and the engine
 * operations they issue are counted per step and per part of the step: {@code zeroGrad}, the forward
 * and backward pass (with the loss's read-back) and the optimizer's {@code step()}. The counts do not
 * depend on the machine's load. Printed to standard error when the window ends; the raw trace is
 * kept in {@code fishleg.opProfile.dir} (default: the temporary directory).
 *
 * <p>An "operation" is a top-level ATen call on the calling thread (what one NDArray method costs in
 * the engine's fixed overhead); "allocations" are the ATen {@code empty} calls at any depth (new
 * tensors, including those an operation makes inside). The parts are separated by a marker operation
 * ({@code aten::atan} on a 0-d array, which none of the project's code uses).
 */
final class OpProfile implements StepRule {

    private static final String MARKER = "aten::atan";

    private final StepRule inner;
    private final String label;
    private final long from;
    private final long count;
    private final NDManager manager;
    private final NDArray marker;
    private long steps;
    private boolean running;

    private OpProfile(StepRule inner, String label, long from, long count, NDManager manager) {
        this.inner = inner;
        this.label = label;
        this.from = from;
        this.count = count;
        this.manager = manager;
        this.marker = manager.create(0.5f);
    }

    /**
     * @param rule the optimizer
     * @param label its name, for the report
     * @param manager owner of the marker array
     * @return the rule, wrapped if {@code fishleg.opProfile} is set
     */
    static StepRule wrap(StepRule rule, String label, NDManager manager) {
        String window = System.getProperty("fishleg.opProfile");
        if (window == null || window.isBlank()) {
            return rule;
        }
        String[] parts = window.split(":");
        return new OpProfile(rule, label, Long.parseLong(parts[0]), Long.parseLong(parts[1]),
                manager.newSubManager());
    }

    private void mark() {
        if (running) {
            marker.atan().close();
        }
    }

    @Override
    public void zeroGrad() {
        if (steps == from) {
            JniUtils.startProfile(false, false, false);
            running = true;
        }
        mark();
        inner.zeroGrad();
        mark();
    }

    @Override
    public void step() {
        mark();
        try {
            inner.step();
        } finally {
            mark();
            steps++;
            if (running && steps == from + count) {
                running = false;
                Path dir = Path.of(System.getProperty("fishleg.opProfile.dir",
                        System.getProperty("java.io.tmpdir")));
                Path trace = dir.resolve("opprofile-" + label.toLowerCase().replaceAll("[^a-z0-9]+", "-")
                        + "-" + from + "-" + count + ".json");
                try {
                    Files.createDirectories(dir);
                    JniUtils.stopProfile(trace.toString());
                    report(trace, System.err);
                } catch (IOException | RuntimeException e) {
                    System.err.println("opProfile: cannot read " + trace + ": " + e);
                }
            }
        }
    }

    /** One event of the trace. */
    private record Event(String name, long tid, double ts, double end) {}

    private static final String[] PARTS = {"zeroGrad", "forward+backward", "step", "between steps"};

    private void report(Path trace, PrintStream out) throws IOException {
        JsonElement root;
        try (Reader r = Files.newBufferedReader(trace)) {
            root = JsonParser.parseReader(r);
        }
        JsonArray events = root.isJsonArray() ? root.getAsJsonArray()
                : root.getAsJsonObject().getAsJsonArray("traceEvents");
        List<Event> all = new ArrayList<>();
        for (JsonElement e : events) {
            JsonObject o = e.getAsJsonObject();
            if (!o.has("ph") || !"X".equals(o.get("ph").getAsString()) || !o.has("name")) {
                continue;
            }
            String cat = o.has("cat") ? o.get("cat").getAsString() : "";
            if (!cat.isEmpty() && !cat.equals("cpu_op") && !cat.equals("Operator")) {
                continue;
            }
            double ts = o.get("ts").getAsDouble();
            double dur = o.has("dur") ? o.get("dur").getAsDouble() : 0;
            long tid = o.has("tid") ? o.get("tid").getAsLong() : 0;
            all.add(new Event(o.get("name").getAsString(), tid, ts, ts + dur));
        }
        all.sort(Comparator.comparingDouble(Event::ts).thenComparing(ev -> -ev.end()));
        // top level per thread: not inside an earlier event of the same thread
        Map<Long, Double> openUntil = new HashMap<>();
        List<Event> top = new ArrayList<>();
        List<Double> allocations = new ArrayList<>();
        for (Event ev : all) {
            if (ev.name().startsWith("aten::empty")) {
                allocations.add(ev.ts());
            }
            double until = openUntil.getOrDefault(ev.tid(), Double.NEGATIVE_INFINITY);
            if (ev.ts() >= until) {
                top.add(ev);
                openUntil.put(ev.tid(), ev.end());
            }
        }
        List<Double> marks = new ArrayList<>();
        for (Event ev : top) {
            if (ev.name().equals(MARKER)) {
                marks.add(ev.ts());
            }
        }
        // per step 4 marks: zeroGrad begin, zeroGrad end, step begin, step end
        int nSteps = marks.size() / 4;
        long[][] ops = new long[nSteps][PARTS.length];
        long[][] allocs = new long[nSteps][PARTS.length];
        List<Map<String, Integer>> stepNames = new ArrayList<>();
        for (int s = 0; s < nSteps; s++) {
            stepNames.add(new TreeMap<>());
        }
        for (Event ev : top) {
            if (ev.name().equals(MARKER)) {
                continue;
            }
            int[] where = locate(marks, ev.ts(), nSteps);
            if (where != null) {
                ops[where[0]][where[1]]++;
                if (where[1] == 2) {
                    stepNames.get(where[0]).merge(ev.name(), 1, Integer::sum);
                }
            }
        }
        for (double ts : allocations) {
            int[] where = locate(marks, ts, nSteps);
            if (where != null) {
                allocs[where[0]][where[1]]++;
            }
        }
        out.printf("opProfile %s, steps %d-%d (trace %s)%n", label, from, from + nSteps - 1, trace);
        out.printf("%6s %28s %28s %28s %20s%n", "step", "zeroGrad ops/allocs",
                "forward+backward ops/allocs", "step() ops/allocs", "between ops/allocs");
        for (int s = 0; s < nSteps; s++) {
            out.printf("%6d %28s %28s %28s %20s%n", from + s, ops[s][0] + "/" + allocs[s][0],
                    ops[s][1] + "/" + allocs[s][1], ops[s][2] + "/" + allocs[s][2],
                    ops[s][3] + "/" + allocs[s][3]);
        }
        double[] meanOps = new double[PARTS.length];
        double[] meanAllocs = new double[PARTS.length];
        for (int s = 0; s < nSteps; s++) {
            for (int k = 0; k < PARTS.length; k++) {
                meanOps[k] += (double) ops[s][k] / nSteps;
                meanAllocs[k] += (double) allocs[s][k] / nSteps;
            }
        }
        out.printf("%6s %28s %28s %28s %20s%n", "mean",
                String.format("%.1f/%.1f", meanOps[0], meanAllocs[0]),
                String.format("%.1f/%.1f", meanOps[1], meanAllocs[1]),
                String.format("%.1f/%.1f", meanOps[2], meanAllocs[2]),
                String.format("%.1f/%.1f", meanOps[3], meanAllocs[3]));
        // the step() of the most common op count, broken down by operation
        Map<Long, Integer> freq = new HashMap<>();
        for (int s = 0; s < nSteps; s++) {
            freq.merge(ops[s][2], 1, Integer::sum);
        }
        long typical = freq.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        for (int s = 0; s < nSteps; s++) {
            if (ops[s][2] == typical) {
                out.printf("step() of step %d by operation (%d ops):%n", from + s, typical);
                stepNames.get(s).entrySet().stream()
                        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                        .forEach(e -> out.printf("  %5d %s%n", e.getValue(), e.getKey()));
                break;
            }
        }
        out.flush();
    }

    /** @return {step, part} of a time stamp, or null outside the window */
    private static int[] locate(List<Double> marks, double ts, int nSteps) {
        int i = -1;
        for (int lo = 0, hi = marks.size() - 1; lo <= hi; ) {
            int mid = (lo + hi) >>> 1;
            if (marks.get(mid) <= ts) {
                i = mid;
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        if (i < 0 || i / 4 >= nSteps) {
            return null;
        }
        return new int[] {i / 4, i % 4};
    }

    @Override
    public Map<String, Object> hyperparameters() {
        return inner.hyperparameters();
    }

    @Override
    public void afterStep(long step, Task.Split heldOut) {
        inner.afterStep(step, heldOut);
    }

    @Override
    public Map<String, Object> statistics() {
        return inner.statistics();
    }

    @Override
    public void save(Path file, Map<String, String> metadata) throws IOException {
        inner.save(file, metadata);
    }

    @Override
    public Map<String, String> load(Path file) throws IOException {
        return inner.load(file);
    }

    /** Frees the marker only: the wrapped rule belongs to the caller that created it. */
    @Override
    public void close() {
        marker.close();
        manager.close();
    }
}
