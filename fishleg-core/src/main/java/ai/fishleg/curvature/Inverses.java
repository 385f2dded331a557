package ai.fishleg.curvature;

import ai.djl.ndarray.NDArray;

/**
 * The inverses of one layer's damped Kronecker factors, N = (A + π√γ I)⁻¹ (k x k, over the
 * layer's input rows [x | 1]) and M = (G + √γ/π I)⁻¹ (out x out, over its output gradients), so
 * that M ⊗ N is the inverse of the damped Kronecker approximation of the layer's Fisher block on
 * vec_r(U). K-FAC preconditions with them; FishLeg's Kronecker start sets Q0 to them.
 *
 * @param input N, the input side
 * @param output M, the output side
 * @param pi π, the split of the damping between the two sides
 */
public record Inverses(NDArray input, NDArray output, double pi) {}
