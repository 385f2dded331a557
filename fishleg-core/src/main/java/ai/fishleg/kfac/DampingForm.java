package ai.fishleg.kfac;

/** How K-FAC damps the Kronecker-factored curvature A ⊗ G before inverting it. */
public enum DampingForm {
    /**
     * Tikhonov damping split over the factors with the trace ratio π (Martens and Grosse 2015,
     * §6.3): (A + π√γ I)⁻¹ and (G + √γ/π I)⁻¹, whose Kronecker product approximates
     * (A ⊗ G + γ I)⁻¹. The default.
     */
    FACTORED,
    /**
     * Exact Tikhonov damping (A ⊗ G + γ I)⁻¹ through the eigendecompositions A = Q_A D_A Q_Aᵀ and
     * G = Q_G D_G Q_Gᵀ, as the PyTorch K-FAC (alecwangcq/KFAC-Pytorch) does it: the natural
     * gradient of U is Q_G[(Q_Gᵀ U Q_A) / (d_G d_Aᵀ + γ)]Q_Aᵀ, eigenvalues at most 1e-10 set to 0.
     */
    EIGEN
}
