package ai.fishleg.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.reflect.TypeToken;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The optimizers' scalar state as one JSON object per optimizer: exact round trips, clear errors. */
class StateMetadataTest {

    record Inner(long count, double value) {}

    record State(Inner inner, Map<String, Long> rng, String settings, double x) {}

    static Map<String, Long> rng() {
        Map<String, Long> rng = new LinkedHashMap<>();
        rng.put("optimizer", Long.MIN_VALUE);
        rng.put("draw", Long.MAX_VALUE);
        rng.put("aux", 1234567890123456789L);
        return rng;
    }

    @Test
    void everyValueReadsBackToTheSameBits() {
        for (double d : List.of(0.1 + 0.2, Double.MIN_VALUE, -0.0, Double.NaN,
                Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Math.PI * 1e300)) {
            State s = new State(new Inner(Long.MAX_VALUE, d), rng(), "Settings[lr=0.1, \"q\"]", -d);
            Map<String, String> md = StateMetadata.write("opt", s);
            assertThat(md).containsOnlyKeys("opt");
            State back = StateMetadata.read(md, "opt", State.class).orElseThrow();
            assertThat(back).isEqualTo(s); // records compare doubles bit for bit (Double.compare)
            assertThat(Double.doubleToRawLongBits(back.inner().value()))
                    .isEqualTo(Double.doubleToRawLongBits(d));
            assertThat(back.rng()).containsExactlyEntriesOf(rng());
        }
    }

    @Test
    void theEntryIsOneJsonObjectWithTheRecordsComponents() {
        Map<String, String> md = StateMetadata.write("opt",
                new State(new Inner(3, 0.5), rng(), "s", 2.0));
        JsonObject o = JsonParser.parseString(md.get("opt")).getAsJsonObject();
        assertThat(o.keySet()).containsExactly("inner", "rng", "settings", "x");
        assertThat(o.getAsJsonObject("inner").get("count").getAsLong()).isEqualTo(3);
        assertThat(o.getAsJsonObject("rng").get("draw").getAsLong()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void anAbsentEntryIsEmptyAndABadOneIsRefusedByName() {
        assertThat(StateMetadata.read(Map.of("other", "{}"), "opt", State.class)).isEmpty();
        assertThatThrownBy(() -> StateMetadata.read(
                Map.of("opt", "{\"inner\":{\"count\":1,\"value\":2},\"rng\":{},\"x\":1}"),
                "opt", State.class))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'opt' has no 'settings'");
        assertThatThrownBy(() -> StateMetadata.read(
                Map.of("opt", "{\"inner\":{\"count\":1},\"rng\":{},\"settings\":\"s\",\"x\":1}"),
                "opt", State.class))
                .hasMessageContaining("'opt.inner' has no 'value'");
        assertThatThrownBy(() -> StateMetadata.read(
                Map.of("opt", "{\"inner\":{\"count\":\"many\",\"value\":1},\"rng\":{},"
                        + "\"settings\":\"s\",\"x\":1}"), "opt", State.class))
                .hasMessageContaining("'opt' is malformed");
        assertThatThrownBy(() -> StateMetadata.read(Map.of("opt", "[1, 2"), "opt", State.class))
                .hasMessageContaining("'opt'");
    }

    @Test
    void theReadersOfTheEarlierLayoutNameTheEntry() {
        Map<String, String> md = Map.of("a.steps", "12", "a.lr", "0.25", "a.bad", "x",
                "a.json", "{\"k\":3}");
        assertThat(StateMetadata.Legacy.longEntry(md, "a.steps")).isEqualTo(12);
        assertThat(StateMetadata.Legacy.doubleEntry(md, "a.lr")).isEqualTo(0.25);
        assertThat(StateMetadata.Legacy.jsonEntry(md, "a.json", new TypeToken<Map<String, Long>>() {}))
                .containsEntry("k", 3L);
        assertThatThrownBy(() -> StateMetadata.Legacy.longEntry(md, "a.bad"))
                .hasMessageContaining("'a.bad' is not an integer");
        assertThatThrownBy(() -> StateMetadata.Legacy.doubleEntry(md, "a.bad"))
                .hasMessageContaining("'a.bad' is not a number");
        assertThatThrownBy(() -> StateMetadata.Legacy.entry(md, "a.none"))
                .hasMessageContaining("no 'a.none' entry");
    }
}
