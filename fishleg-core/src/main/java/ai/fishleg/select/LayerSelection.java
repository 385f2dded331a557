package ai.fishleg.select;

import ai.djl.nn.Block;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Walking a model's block tree by dotted names and selecting layers by name or regex (the
 * reference's {@code utils} module, docs/ALGORITHM.md §3.2).
 *
 * <p>Dotted names: the root is {@code ""}; every other block is named by the DJL child names on
 * the path from the root, joined by dots. DJL prefixes a child's name with its 1-based position
 * ({@code AbstractBlock.addChildBlock}), so the children of a {@code SequentialBlock} are {@code
 * 01Linear}, {@code 02LambdaBlock}, ..., those of a {@code ParallelBlock} likewise, and a user
 * block that calls {@code addChildBlock("encoder", ...)} first has a child {@code 01encoder}. A
 * linear layer inside the second child of a sequential model is thus {@code
 * 02SequentialBlock.01Linear}.
 * The walk follows {@link Block#getChildren()}, so any block that registers its children (as
 * every {@code AbstractBlock} should) is searched, at any depth.
 */
public final class LayerSelection {

    /** Prefix that marks an entry as a regular expression. */
    public static final String REGEX_PREFIX = "re:";

    private LayerSelection() {}

    /**
     * Every block of a model in pre-order (parents before children), the root first with name
     * {@code ""}.
     *
     * @param model the model
     * @return the named blocks
     */
    public static List<NamedLayer> namedLayers(Block model) {
        List<NamedLayer> out = new ArrayList<>();
        collect("", model, out);
        return out;
    }

    private static void collect(String name, Block block, List<NamedLayer> out) {
        out.add(new NamedLayer(name, block));
        for (Pair<String, Block> child : block.getChildren()) {
            collect(child(name, child.getKey()), child.getValue(), out);
        }
    }

    /**
     * @param parent a dotted name ({@code ""} for the root)
     * @param child a child's own name
     * @return the child's dotted name
     */
    public static String child(String parent, String child) {
        return parent.isEmpty() ? child : parent + "." + child;
    }

    /**
     * @param dottedName a dotted name
     * @return the name for messages: {@code "<root>"} for the root's empty name
     */
    public static String displayName(String dottedName) {
        return dottedName.isEmpty() ? "<root>" : dottedName;
    }

    /**
     * Whether {@code name} lies inside the block called {@code ancestor} (strictly). Uses the dotted
     * structure, not a regex prefix, so that {@code "1"} does not contain {@code "10"} (docs/ALGORITHM.md §3.2
     * [FIX]).
     *
     * @param ancestor a dotted name ({@code ""} is the root, which contains everything else)
     * @param name another dotted name
     * @return whether name is a descendant of ancestor
     */
    public static boolean isDescendant(String ancestor, String name) {
        if (ancestor.isEmpty()) {
            return !name.isEmpty();
        }
        return name.startsWith(ancestor + ".");
    }

    /**
     * Whether a name matches one entry: {@code "re:<regex>"} matches when the regex matches a
     * prefix of the name (Python's {@code re.match}); any other entry must equal the name.
     *
     * @param entry the entry
     * @param name the dotted name
     * @return whether it matches
     */
    public static boolean matches(String entry, String name) {
        if (entry.startsWith(REGEX_PREFIX)) {
            return compile(entry).matcher(name).lookingAt();
        }
        return entry.equals(name);
    }

    private static Pattern compile(String entry) {
        String regex = entry.substring(REGEX_PREFIX.length());
        try {
            return Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(
                    "module name entry '" + entry + "' is not a valid regular expression: "
                            + e.getDescription(), e);
        }
    }

    /**
     * The top-most blocks whose dotted name matches one of the entries, in pre-order; descendants
     * of a block already selected are left out (the reference's {@code get_named_layers_by_regex}).
     *
     * @param model the model
     * @param entries names or {@code re:} regexes
     * @param strict if true, every plain name must be selected and every regex must select at least
     *     one block, else an {@link IllegalArgumentException} names what was not found
     * @return the selected blocks
     */
    public static List<NamedLayer> namedLayersByRegex(
            Block model, List<String> entries, boolean strict) {
        return select(namedLayers(model), entries, strict);
    }

    /**
     * {@link #namedLayersByRegex} over an explicit list of named blocks (in pre-order).
     *
     * @param candidates named blocks in pre-order
     * @param entries names or {@code re:} regexes
     * @param strict whether unmatched entries are an error
     * @return the selected blocks
     */
    public static List<NamedLayer> select(
            List<NamedLayer> candidates, List<String> entries, boolean strict) {
        List<Pattern> patterns = new ArrayList<>();
        for (String e : entries) {
            patterns.add(e.startsWith(REGEX_PREFIX) ? compile(e) : null);
        }
        List<NamedLayer> kept = new ArrayList<>();
        for (NamedLayer candidate : candidates) {
            String name = candidate.layerName();
            boolean hit = false;
            for (int i = 0; i < entries.size() && !hit; i++) {
                Pattern p = patterns.get(i);
                hit = p == null ? entries.get(i).equals(name) : p.matcher(name).lookingAt();
            }
            if (hit && kept.stream().noneMatch(k -> isDescendant(k.layerName(), name))) {
                kept.add(candidate);
            }
        }
        if (strict) {
            List<String> keptNames = kept.stream().map(NamedLayer::layerName).toList();
            for (int i = 0; i < entries.size(); i++) {
                String entry = entries.get(i);
                Pattern p = patterns.get(i);
                boolean found =
                        p == null
                                ? keptNames.contains(entry)
                                : keptNames.stream().anyMatch(n -> p.matcher(n).lookingAt());
                if (!found) {
                    throw new IllegalArgumentException(
                            "module name entry '" + entry + "' matched no layer; selected: "
                                    + keptNames + "; entries given: " + entries
                                    + "; all layer names: "
                                    + candidates.stream().map(NamedLayer::layerName).toList());
                }
            }
        }
        return kept;
    }
}
