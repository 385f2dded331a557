package ai.fishleg.architecture;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The library's packages form a tree: no package uses another that (directly or through a third)
 * uses it back, so a reader can learn them bottom up (docs/ARCHITECTURE.md). The uses are read from
 * the sources: every {@code ai.fishleg.<package>.<Type>} named outside comments, in an import or
 * written out in full.
 */
class PackageTreeTest {

    private static final Pattern USE =
            Pattern.compile("\\bai\\.fishleg((?:\\.[a-z][a-z0-9_]*)+)\\.[A-Z]");
    private static final Pattern PACKAGE =
            Pattern.compile("^package ai\\.fishleg((?:\\.[a-z0-9_]+)*);", Pattern.MULTILINE);
    private static final Pattern COMMENTS = Pattern.compile("//[^\\n]*|/\\*.*?\\*/", Pattern.DOTALL);
    private static final Pattern STRINGS = Pattern.compile("\"(?:\\\\.|[^\"\\\\\\n])*\"");

    @Test
    void theLibrarysPackagesFormATree() {
        Map<String, Set<String>> uses = uses(Paths.get("src/main/java"));
        assertThat(uses).as("packages read").containsKeys("fishleg", "kfac", "core", "curvature");
        assertThat(cycle(uses)).as("a cycle of package uses").isEmpty();
    }

    @Test
    void theCommandLinesPackagesFormATreeAboveTheLibrary() {
        Path cli = Paths.get("../fishleg-cli/src/main/java");
        if (!Files.isDirectory(cli)) {
            return; // the module is built alone
        }
        Map<String, Set<String>> uses = uses(Paths.get("src/main/java"));
        uses(cli).forEach((p, s) -> uses.merge(p, s, (a, b) -> {
            a.addAll(b);
            return a;
        }));
        assertThat(cycle(uses)).as("a cycle of package uses").isEmpty();
    }

    @Test
    void theCheckFindsACycleThroughAThirdPackage() {
        Map<String, Set<String>> uses = new TreeMap<>();
        uses.put("a", new TreeSet<>(List.of("b")));
        uses.put("b", new TreeSet<>(List.of("c")));
        uses.put("c", new TreeSet<>(List.of("a")));
        uses.put("d", new TreeSet<>(List.of("a")));
        assertThat(cycle(uses)).containsExactly("a", "b", "c", "a");
        uses.get("c").clear();
        assertThat(cycle(uses)).isEmpty();
    }

    /** Package (below ai.fishleg, dotted) to the packages its sources use. */
    private static Map<String, Set<String>> uses(Path root) {
        Map<String, Set<String>> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String code = STRINGS.matcher(
                        COMMENTS.matcher(Files.readString(f)).replaceAll(" ")).replaceAll("\"\"");
                Matcher pm = PACKAGE.matcher(code);
                if (!pm.find()) {
                    continue;
                }
                String own = name(pm.group(1));
                Set<String> used = out.computeIfAbsent(own, k -> new TreeSet<>());
                Matcher um = USE.matcher(code.substring(pm.end()));
                while (um.find()) {
                    String other = name(um.group(1));
                    if (!other.equals(own)) {
                        used.add(other);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static String name(String dotted) {
        return dotted.isEmpty() ? "" : dotted.substring(1);
    }

    /** A cycle of uses as the list of packages along it (first repeated at the end), or empty. */
    static List<String> cycle(Map<String, Set<String>> uses) {
        Map<String, Integer> state = new TreeMap<>(); // 1 on the path, 2 done
        List<String> path = new ArrayList<>();
        for (String p : uses.keySet()) {
            List<String> c = visit(p, uses, state, path);
            if (!c.isEmpty()) {
                return c;
            }
        }
        return List.of();
    }

    private static List<String> visit(
            String p, Map<String, Set<String>> uses, Map<String, Integer> state, List<String> path) {
        Integer s = state.get(p);
        if (s != null && s == 2) {
            return List.of();
        }
        if (s != null) {
            List<String> c = new ArrayList<>(path.subList(path.indexOf(p), path.size()));
            c.add(p);
            return c;
        }
        state.put(p, 1);
        path.add(p);
        for (String q : uses.getOrDefault(p, Set.of())) {
            List<String> c = visit(q, uses, state, path);
            if (!c.isEmpty()) {
                return c;
            }
        }
        path.remove(path.size() - 1);
        state.put(p, 2);
        return List.of();
    }
}
