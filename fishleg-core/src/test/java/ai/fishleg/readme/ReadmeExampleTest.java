package ai.fishleg.readme;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.fishleg.data.BatchSource;
import ai.fishleg.data.BatchSources;
import ai.fishleg.data.LabeledBatch;
import ai.fishleg.fishleg.FishLeg;
import ai.fishleg.likelihood.DrawFunction;
import ai.fishleg.likelihood.FixedGaussianLikelihood;
import ai.fishleg.likelihood.NllFunction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The library example of the README is this code, and it trains. */
class ReadmeExampleTest {

    static List<Double> readmeExample() {
        // README-BEGIN library-example
        List<Double> losses = new ArrayList<>(); // the training loss of every step
        try (NDManager manager = NDManager.newBaseManager()) {
            // y = sum(x) + noise, a regression with a fixed-variance Gaussian likelihood
            NDArray x = manager.randomNormal(new Shape(1000, 2));
            NDArray noise = manager.randomNormal(0, 0.1f, new Shape(1000, 1), DataType.FLOAT32);
            NDArray y = x.sum(new int[] {1}, true).add(noise);

            SequentialBlock model = new SequentialBlock()
                    .add(Linear.builder().setUnits(5).build())
                    .add(Activation.reluBlock())
                    .add(Linear.builder().setUnits(1).build());
            model.initialize(manager, DataType.FLOAT32, new Shape(1, 2));

            FixedGaussianLikelihood likelihood = new FixedGaussianLikelihood(1.0);
            NllFunction nll = NllFunction.of(likelihood);
            BatchSource auxData = BatchSources.randomBatches(x, y, 100, 1);
            BatchSource trainData = BatchSources.randomBatches(x, y, 100, 2);

            try (FishLeg opt = FishLeg.builder(model, DrawFunction.of(likelihood), nll, auxData)
                    .fishLr(0.05)
                    .damping(0.5)
                    .updateAuxEvery(10)
                    .auxLr(1e-3)
                    .build()) {
                for (int step = 0; step < 300; step++) {
                    try (NDManager batchManager = manager.newSubManager()) {
                        LabeledBatch batch = trainData.next(batchManager);
                        opt.zeroGrad();
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray loss = nll.nll(model, batch);
                            gc.backward(loss);
                            losses.add((double) loss.getFloat());
                        }
                        opt.step();
                    }
                }
            }
        }
        // README-END library-example
        return losses;
    }

    @Test
    void theExampleTrains() {
        Engine.getInstance().setRandomSeed(1);
        List<Double> losses = readmeExample();
        double first = losses.subList(0, 10).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = losses.subList(290, 300).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertThat(last).isLessThan(0.8 * first);
    }

    @Test
    void theReadmeShowsThisExampleVerbatim() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (root != null && !Files.exists(root.resolve("README.md"))) {
            root = root.getParent();
        }
        assertThat(root).as("README.md above " + Path.of("").toAbsolutePath()).isNotNull();
        String readme = Files.readString(root.resolve("README.md"));
        String source = Files.readString(root.resolve(
                "fishleg-core/src/test/java/ai/fishleg/readme/ReadmeExampleTest.java"));
        String marker = "// README-BEGIN library-example\n";
        int start = source.indexOf(marker) + marker.length();
        int end = source.indexOf("// README-END library-example"); // keeps the indent of that line
        String block = source.substring(start, end).stripIndent();
        assertThat(readme).contains(block);
    }
}
