package ai.fishleg.testing;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import java.util.ArrayList;
import java.util.List;

/** Nested JSON number arrays to float64 NDArrays. */
public final class Json {

    private Json() {}

    /**
     * @param manager owner
     * @param e a number or (nested) array of numbers
     * @return the float64 array with the nesting as its shape
     */
    public static NDArray array(NDManager manager, JsonElement e) {
        List<Long> shape = new ArrayList<>();
        JsonElement cur = e;
        while (cur.isJsonArray()) {
            JsonArray a = cur.getAsJsonArray();
            shape.add((long) a.size());
            if (a.size() == 0) {
                break;
            }
            cur = a.get(0);
        }
        List<Double> values = new ArrayList<>();
        flatten(e, values);
        double[] v = new double[values.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = values.get(i);
        }
        return manager.create(v, new Shape(shape.stream().mapToLong(Long::longValue).toArray()));
    }

    private static void flatten(JsonElement e, List<Double> out) {
        if (e.isJsonArray()) {
            for (JsonElement c : e.getAsJsonArray()) {
                flatten(c, out);
            }
        } else {
            out.add(e.getAsDouble());
        }
    }
}
