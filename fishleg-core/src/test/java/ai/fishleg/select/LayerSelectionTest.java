package ai.fishleg.select;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Dotted layer names and the reference's regex selection, including its prefix pitfall. */
class LayerSelectionTest {

    static Block nested() {
        SequentialBlock inner = new SequentialBlock()
                .add(Linear.builder().setUnits(3).build())
                .add(Linear.builder().setUnits(2).build());
        return new SequentialBlock()
                .add(Linear.builder().setUnits(4).build())
                .add(Activation.reluBlock())
                .add(inner)
                .add(Linear.builder().setUnits(1).build());
    }

    static List<String> names(List<NamedLayer> layers) {
        return layers.stream().map(NamedLayer::layerName).toList();
    }

    @Test
    void namesAreDottedPathsOfDjlChildNamesInPreOrder() {
        assertThat(names(LayerSelection.namedLayers(nested()))).containsExactly(
                "", "01Linear", "02LambdaBlock", "03SequentialBlock",
                "03SequentialBlock.01Linear", "03SequentialBlock.02Linear", "04Linear");
    }

    @Test
    void plainNamesMatchExactlyAndRegexesMatchAPrefix() {
        Block model = nested();
        assertThat(names(LayerSelection.namedLayersByRegex(model, List.of("01Linear"), false)))
                .containsExactly("01Linear");
        // "re:0" matches a prefix of every child name; descendants of a kept block are dropped.
        assertThat(names(LayerSelection.namedLayersByRegex(model, List.of("re:0"), false)))
                .containsExactly("01Linear", "02LambdaBlock", "03SequentialBlock", "04Linear");
        assertThat(names(LayerSelection.namedLayersByRegex(model, List.of("re:.*Linear"), false)))
                .containsExactly("01Linear", "03SequentialBlock.01Linear",
                        "03SequentialBlock.02Linear", "04Linear");
        // A plain name is not a prefix pattern.
        assertThat(LayerSelection.namedLayersByRegex(model, List.of("01"), false)).isEmpty();
    }

    @Test
    void aSelectedBlockHidesItsDescendantsButNotItsLookalikeSiblings() {
        // The reference tests "is inside a kept block" with a regex prefix, so a kept "1" also
        // swallows "10" (and "1x"). Names here are built by hand to hit exactly that case.
        Block dummy = Linear.builder().setUnits(1).build();
        List<NamedLayer> candidates = List.of(
                new NamedLayer("1", dummy),
                new NamedLayer("1.0", dummy),
                new NamedLayer("10", dummy),
                new NamedLayer("10.0", dummy),
                new NamedLayer("1x", dummy));
        List<NamedLayer> kept = LayerSelection.select(candidates, List.of("re:1"), false);
        assertThat(names(kept)).containsExactly("1", "10", "1x");
        assertThat(LayerSelection.isDescendant("1", "10")).isFalse();
        assertThat(LayerSelection.isDescendant("1", "1.0")).isTrue();
        assertThat(LayerSelection.isDescendant("", "1")).isTrue();
        assertThat(LayerSelection.isDescendant("1.0", "1.0")).isFalse();
        // Dots in a regex are regex dots: "re:1.0" matches "1x0..." as Python's re.match would.
        assertThat(LayerSelection.matches("re:1.0", "1x0")).isTrue();
        assertThat(LayerSelection.matches("1.0", "1x0")).isFalse();
    }

    @Test
    void strictModeNamesWhatWasNotFound() {
        Block model = nested();
        assertThatThrownBy(() -> LayerSelection.namedLayersByRegex(
                        model, List.of("01Linear", "05Linear"), true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'05Linear'")
                .hasMessageContaining("01Linear");
        assertThatThrownBy(() -> LayerSelection.namedLayersByRegex(model, List.of("re:Conv"), true))
                .hasMessageContaining("'re:Conv'");
        // Without strict, unmatched entries are ignored.
        assertThat(LayerSelection.namedLayersByRegex(model, List.of("05Linear"), false)).isEmpty();
    }

    @Test
    void invalidRegexIsAClearError() {
        assertThatThrownBy(() -> LayerSelection.namedLayersByRegex(nested(), List.of("re:(["), false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("re:([")
                .hasMessageContaining("regular expression");
    }
}
