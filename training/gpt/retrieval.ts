// Retrieval accuracy's nearest-neighbour search: squared pixel error between generated images and every real image,
// as ‖q‖² − 2·q·cᵀ + ‖c‖² with the corpus transposed once (plain matMuls are the fast path on wasm).
import * as tf from "@tensorflow/tfjs";
import type { Shard } from "../../lib/data/shard";

/** Index of the nearest corpus image (squared pixel error) for each query image; both [N, D] in [0, 1]. */
export function nearestNeighbours(queries: tf.Tensor2D, corpusT: tf.Tensor2D, corpusSq: tf.Tensor1D): Int32Array {
  return tf.tidy(() => {
    const qq = tf.sum(tf.square(queries), 1, true); // [Q, 1]
    const d = tf.add(tf.sub(qq, tf.mul(tf.matMul(queries, corpusT), 2)), corpusSq); // [Q, M]
    return tf.argMin(d, 1).dataSync() as Int32Array;
  });
}

export function flatten(shard: Shard): tf.Tensor2D {
  return tf.tidy(
    () => tf.div(tf.tensor2d(shard.data, [shard.count, shard.height * shard.width * shard.channels], "float32"), 255) as tf.Tensor2D,
  );
}
