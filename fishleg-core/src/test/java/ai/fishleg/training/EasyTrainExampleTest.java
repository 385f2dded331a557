package ai.fishleg.training;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.training.TrainingResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The documented EasyTrain example ({@link EasyTrainExample}, shown verbatim in
 * docs/DJL-INTEGRATION.md): DJL's logging listener and an accuracy evaluator run alongside
 * FishLeg, the log shows FishLeg's auxiliary metrics, and the classifier learns.
 */
class EasyTrainExampleTest {

    private static final int EPOCHS = 4;
    private static final String EXAMPLE = "src/test/java/ai/fishleg/training/EasyTrainExample.java";
    private static final String MODULE = "fishleg-core";
    /** Where the example is documented, relative to the repository root. */
    private static final String DOC = "docs/DJL-INTEGRATION.md";

    @Test
    void exampleTrainsWithDjlsLoggingListenerAndAccuracy() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream original = System.err;
        TrainingResult result;
        System.setErr(new PrintStream(new Tee(original, log), true, StandardCharsets.UTF_8));
        try {
            result = EasyTrainExample.train(EPOCHS);
        } finally {
            System.setErr(original);
        }

        assertThat(result.getEpoch()).isEqualTo(EPOCHS);
        // Chance is 1/3; the blobs are well separated.
        assertThat(result.getTrainEvaluation("Accuracy")).isGreaterThan(0.9f);
        assertThat(result.getValidateEvaluation("Accuracy")).isGreaterThan(0.9f);
        assertThat(result.getValidateLoss()).isLessThan(0.5f);
        assertThat(result.getTrainEvaluation(FishLegOptimizer.AUX_LOSS)).isFinite();
        assertThat(result.getTrainEvaluation(FishLegOptimizer.AUX_CHECK)).isFinite();
        assertThat(result.getTrainEvaluation(FishLegOptimizer.AUX_G2)).isPositive();

        List<String> trainLines =
                log.toString(StandardCharsets.UTF_8).lines()
                        .filter(l -> l.contains("LoggingTrainingListener - Train: "))
                        .toList();
        assertThat(trainLines).hasSize(EPOCHS);
        for (String line : trainLines) {
            assertThat(line).contains("Accuracy: ", "AuxLoss: ", "AuxCheck: ", "AuxG2: ", "NLL: ");
        }
    }

    @Test
    void theDocumentationShowsExactlyTheTestedExample() throws IOException {
        Path module = Paths.get("").toAbsolutePath();
        Path root = module;
        while (root != null && !Files.exists(root.resolve(DOC))) {
            root = root.getParent();
        }
        assertThat(root).as(DOC + " in " + module + " or a folder above it").isNotNull();
        Path doc = root.resolve(DOC);
        String text = Files.readString(doc);
        String section = "## Training with DJL's EasyTrain";
        int start = text.indexOf(section);
        assertThat(start).as("section '" + section + "' in " + doc).isNotNegative();
        int open = text.indexOf("```java\n", start);
        int close = text.indexOf("```\n", open + 8);
        assertThat(open).as("a java code block in the section").isPositive();
        String shown = text.substring(open + "```java\n".length(), close);
        String tested = Files.readString(root.resolve(MODULE).resolve(EXAMPLE));
        assertThat(shown).isEqualTo(tested);
    }

    /** Writes to two streams. */
    private static final class Tee extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        Tee(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int c) throws IOException {
            a.write(c);
            b.write(c);
        }

        @Override
        public void write(byte[] buf, int off, int len) throws IOException {
            a.write(buf, off, len);
            b.write(buf, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            b.flush();
        }
    }
}
