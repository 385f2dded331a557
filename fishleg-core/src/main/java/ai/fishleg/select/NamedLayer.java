package ai.fishleg.select;

import ai.djl.nn.Block;

/**
 * A block of a model with its dotted path (the reference's {@code NamedLayerParam}).
 *
 * <p>Names are the DJL child names joined by dots, from the root (whose name is {@code ""}). DJL
 * prefixes each child name with its position, so a {@code SequentialBlock} of two linear layers and
 * an activation has children {@code 01Linear}, {@code 02LambdaBlock}, {@code 03Linear}, and a
 * nested layer is named like {@code 04SequentialBlock.01Linear}.
 *
 * @param layerName the dotted path
 * @param layer the block
 */
public record NamedLayer(String layerName, Block layer) {}
