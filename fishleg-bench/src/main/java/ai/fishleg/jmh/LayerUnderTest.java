package ai.fishleg.jmh;

import ai.djl.modality.nlp.DefaultVocabulary;
import ai.djl.modality.nlp.embedding.TrainableWordEmbedding;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.norm.LayerNorm;
import ai.fishleg.fishleg.blocks.CurvatureBlock;
import ai.fishleg.fishleg.blocks.CurvatureOptions;
import ai.fishleg.fishleg.blocks.LayerRegistry;
import java.util.ArrayList;
import java.util.List;

/**
 * One DJL layer with its curvature block and a random vector shaped like its parameters, built from
 * a short spec:
 *
 * <ul>
 *   <li>{@code linear:IN:OUT} — Linear IN → OUT with bias;
 *   <li>{@code conv2d:CIN:COUT:K} — Conv2d CIN → COUT channels, K x K kernel, with bias;
 *   <li>{@code batchnorm:C} — BatchNorm over C channels;
 *   <li>{@code layernorm:F} — LayerNorm over F features;
 *   <li>{@code embedding:ROWS:DIM} — a trainable embedding table.
 * </ul>
 */
final class LayerUnderTest implements AutoCloseable {

    final NDManager manager;
    final CurvatureBlock block;
    final NDList vector;

    /**
     * @param spec see the class comment
     * @param options full / batchSpeedup
     * @param dataType element type
     */
    LayerUnderTest(String spec, CurvatureOptions options, DataType dataType) {
        manager = NDManager.newBaseManager();
        manager.getEngine().setRandomSeed(1);
        String[] p = spec.split(":");
        Block layer;
        Shape input;
        switch (p[0]) {
            case "linear" -> {
                layer = Linear.builder().setUnits(Integer.parseInt(p[2])).build();
                input = new Shape(1, Integer.parseInt(p[1]));
            }
            case "conv2d" -> {
                int k = Integer.parseInt(p[3]);
                layer = Conv2d.builder().setFilters(Integer.parseInt(p[2]))
                        .setKernelShape(new Shape(k, k)).build();
                input = new Shape(1, Integer.parseInt(p[1]), 2L * k, 2L * k);
            }
            case "batchnorm" -> {
                layer = BatchNorm.builder().build();
                input = new Shape(2, Integer.parseInt(p[1]), 4, 4);
            }
            case "layernorm" -> {
                layer = LayerNorm.builder().build();
                input = new Shape(2, Integer.parseInt(p[1]));
            }
            case "embedding" -> {
                int rows = Integer.parseInt(p[1]);
                List<String> tokens = new ArrayList<>(rows);
                for (int i = 0; i < rows; i++) {
                    tokens.add("t" + i);
                }
                layer = TrainableWordEmbedding.builder()
                        .setVocabulary(new DefaultVocabulary(tokens))
                        .setEmbeddingSize(Integer.parseInt(p[2]))
                        .optUseDefault(false)
                        .build();
                input = new Shape(1, 1);
            }
            default -> throw new IllegalArgumentException(
                    "unknown layer spec " + spec + " (linear:IN:OUT, conv2d:CIN:COUT:K,"
                            + " batchnorm:C, layernorm:F, embedding:ROWS:DIM)");
        }
        layer.initialize(manager, dataType, input);
        block = LayerRegistry.factoryFor(layer).create("", layer, manager, options);
        vector = new NDList();
        for (NDArray a : block.getParameterArrays()) {
            vector.add(manager.randomNormal(a.getShape(), dataType));
        }
    }

    @Override
    public void close() {
        block.close();
        manager.close();
    }
}
