package ai.fishleg.core;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import java.lang.reflect.RecordComponent;
import java.util.Map;
import java.util.Optional;

/**
 * The scalar state of an optimizer in a {@link Checkpoint} (its counters, its random generators'
 * states, its settings), in one format for every optimizer: a record of the optimizer's own,
 * written as one JSON object under the optimizer's name ({@code fishleg}, {@code kfac}, {@code
 * muon}), so that the checkpoint's metadata holds it as {@code state.<name>}. Numbers are JSON
 * numbers (doubles written so that they read back to the same bits, NaN and infinities as {@code
 * NaN}, {@code Infinity}), generator states and counters integers.
 *
 * <p>Checkpoints written before this format keep each optimizer's scalar state in flat entries of
 * its own; {@link Legacy} reads those, for the optimizers' readers of the earlier layout.
 */
public final class StateMetadata {

    private static final Gson GSON =
            new GsonBuilder().serializeSpecialFloatingPointValues().disableHtmlEscaping().create();

    private StateMetadata() {}

    /**
     * @param name the optimizer's name (the entry's key)
     * @param state its scalar state
     * @return the state as {@link CheckpointState#metadata()} hands it to the checkpoint
     */
    public static Map<String, String> write(String name, Record state) {
        return Map.of(name, GSON.toJson(state));
    }

    /**
     * Reads a state written by {@link #write}.
     *
     * @param <T> the state's record type
     * @param metadata the saved scalar state ({@link CheckpointState#restorer})
     * @param name the optimizer's name
     * @param type the state's record class
     * @return the state, or empty when the metadata has no entry of this name (a checkpoint of the
     *     earlier layout, or of another optimizer)
     * @throws IllegalArgumentException if the entry is not JSON of this record, or lacks one of its
     *     components (at any depth of records)
     */
    public static <T extends Record> Optional<T> read(Map<String, String> metadata, String name,
            Class<T> type) {
        String json = metadata.get(name);
        if (json == null) {
            return Optional.empty();
        }
        try {
            JsonElement tree = JsonParser.parseString(json);
            requireComponents(tree, type, name);
            return Optional.of(GSON.fromJson(tree, type));
        } catch (JsonParseException | IllegalStateException | NumberFormatException e) {
            throw new IllegalArgumentException(
                    "its metadata entry '" + name + "' is malformed: " + e.getMessage(), e);
        }
    }

    /** Checks that a JSON object has every component of a record, non-null, records within too. */
    private static void requireComponents(JsonElement json, Class<?> type, String where) {
        if (!json.isJsonObject()) {
            throw new IllegalArgumentException("its metadata entry '" + where + "' is not a JSON object");
        }
        JsonObject o = json.getAsJsonObject();
        for (RecordComponent c : type.getRecordComponents()) {
            JsonElement v = o.get(c.getName());
            if (v == null || v.isJsonNull()) {
                throw new IllegalArgumentException(
                        "its metadata entry '" + where + "' has no '" + c.getName() + "'");
            }
            if (c.getType().isRecord()) {
                requireComponents(v, c.getType(), where + "." + c.getName());
            }
        }
    }

    /** Readers of the flat entries of the layout before {@link StateMetadata}. */
    public static final class Legacy {

        private Legacy() {}

        /**
         * @param metadata the saved scalar state
         * @param key an entry's key
         * @return its value
         * @throws IllegalArgumentException if there is no such entry
         */
        public static String entry(Map<String, String> metadata, String key) {
            String v = metadata.get(key);
            if (v == null) {
                throw new IllegalArgumentException("its metadata has no '" + key + "' entry (nor"
                        + " the state of this optimizer in the current layout)");
            }
            return v;
        }

        /**
         * @param metadata the saved scalar state
         * @param key an entry's key
         * @return its value, an integer
         * @throws IllegalArgumentException if there is no such entry or it is not an integer
         */
        public static long longEntry(Map<String, String> metadata, String key) {
            String v = entry(metadata, key);
            try {
                return Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "its metadata entry '" + key + "' is not an integer: '" + v + "'", e);
            }
        }

        /**
         * @param metadata the saved scalar state
         * @param key an entry's key
         * @return its value, a number
         * @throws IllegalArgumentException if there is no such entry or it is not a number
         */
        public static double doubleEntry(Map<String, String> metadata, String key) {
            String v = entry(metadata, key);
            try {
                return Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(
                        "its metadata entry '" + key + "' is not a number: '" + v + "'", e);
            }
        }

        /**
         * @param <T> the value's type
         * @param metadata the saved scalar state
         * @param key an entry's key
         * @param type the value's type
         * @return its value, parsed from JSON
         * @throws IllegalArgumentException if there is no such entry or it is not JSON of the type
         */
        public static <T> T jsonEntry(Map<String, String> metadata, String key, TypeToken<T> type) {
            String json = entry(metadata, key);
            try {
                T value = GSON.fromJson(json, type);
                if (value == null) {
                    throw new IllegalArgumentException("its metadata entry '" + key + "' is empty");
                }
                return value;
            } catch (JsonParseException | NumberFormatException e) {
                throw new IllegalArgumentException(
                        "its metadata entry '" + key + "' is malformed: " + e.getMessage(), e);
            }
        }
    }
}
