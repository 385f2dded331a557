package ai.fishleg.bench;

import ai.djl.engine.Engine;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the numbers were measured on.
 *
 * @param cpu the CPU model (from /proc/cpuinfo, or "unknown")
 * @param cores processors available to the JVM
 * @param java the Java runtime version
 * @param engine the DJL engine and its version
 * @param djl the DJL version
 * @param engineThreads the engine's intra-op threads (PyTorch), or -1 if unknown
 * @param loadAverage the one-minute load average when the benchmark finished
 */
public record MachineInfo(
        String cpu, int cores, String java, String engine, String djl, int engineThreads,
        double loadAverage) {

    /** @return the machine this JVM runs on */
    public static MachineInfo read() {
        Engine e = Engine.getInstance();
        return new MachineInfo(
                cpuModel(),
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name") + " " + Runtime.version(),
                e.getEngineName() + " " + e.getVersion(),
                Engine.getDjlVersion(),
                engineThreads(e),
                ManagementFactory.getOperatingSystemMXBean()
                        .getSystemLoadAverage());
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return "unknown";
    }

    private static int engineThreads(Engine e) {
        if (!"PyTorch".equals(e.getEngineName())) {
            return -1;
        }
        return ai.djl.pytorch.jni.JniUtils.getNumThreads();
    }
}
