package ai.fishleg.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.fishleg.util.Tensors;
import java.util.function.Supplier;

/**
 * The executors' backward passes. DJL lets one {@link GradientCollector} collect at a time in a
 * JVM, but an executor runs several tasks at once, and in local mode the driver holds its own
 * collector while it waits for the job. On PyTorch, tasks therefore backpropagate through the
 * engine directly (autograd on independent replicas is thread-safe); on other engines, through a
 * collector, one task at a time ({@link #LOCK}).
 */
final class Backward {

    /** Serialises the passes that need DJL's collector. */
    static final Object LOCK = new Object();

    private Backward() {}

    /**
     * @param manager the manager of the pass (its engine decides the way)
     * @param loss computes the scalar loss (called once)
     * @return the loss's value, after its gradient has been accumulated into the parameters
     */
    static double run(NDManager manager, Supplier<NDArray> loss) {
        if ("PyTorch".equals(manager.getEngine().getEngineName())) {
            return Torch.run(loss);
        }
        synchronized (LOCK) {
            try (GradientCollector gc = manager.getEngine().newGradientCollector()) {
                NDArray l = loss.get();
                gc.backward(l);
                return Tensors.scalar(l);
            }
        }
    }

    /** Kept apart so that other engines never load PyTorch's classes. */
    private static final class Torch {
        static double run(Supplier<NDArray> loss) {
            boolean before = JniUtils.isGradMode();
            JniUtils.setGradMode(true);
            try {
                NDArray l = loss.get();
                try (NDArray ones = l.onesLike()) {
                    JniUtils.backward((PtNDArray) l, (PtNDArray) ones, false, false);
                }
                return Tensors.scalar(l);
            } finally {
                JniUtils.setGradMode(before);
            }
        }
    }
}
