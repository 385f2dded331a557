package ai.fishleg.core;

/**
 * A step met a NaN or infinite value. Nothing was written into the parameters or the momentum.
 */
public final class NonFiniteException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    private final String layer;
    private final String parameter;
    private final String quantity;

    /**
     * @param layer the layer's dotted name
     * @param parameter the parameter's name in the layer
     * @param quantity what was not finite ("gradient", "natural gradient", ...)
     * @param message the full message
     */
    public NonFiniteException(String layer, String parameter, String quantity, String message) {
        super(message);
        this.layer = layer;
        this.parameter = parameter;
        this.quantity = quantity;
    }

    /** @return the layer's dotted name */
    public String getLayer() {
        return layer;
    }

    /** @return the parameter's name within the layer */
    public String getParameter() {
        return parameter;
    }

    /** @return what was not finite */
    public String getQuantity() {
        return quantity;
    }
}
