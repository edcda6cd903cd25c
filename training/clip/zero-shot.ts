// CLIP's evaluation helpers (Radford et al. 2021, §3.1): embed every candidate label as a text prompt, embed the
// images, and classify each image by its most similar prompt ("zero-shot transfer"); prompt ensembling averages a
// label's embeddings over several templates (§3.1.4), here over the four styles. Text→image retrieval ranks every
// image for each caption. Embeddings come back as tensors the caller disposes; ranks as plain arrays.
import * as tf from "@tensorflow/tfjs";
import { batchTensor } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import type { Clip } from "../../lib/model/clip";
import { l2Normalize } from "../../lib/model/clip-loss";
import { tokeniseCaptions, type TextTokenizer } from "../../lib/text/tokenizer";

/** Unit text embeddings [N, D] of `texts`, `batch` at a time. */
export function embedTexts(model: Clip, tok: TextTokenizer, texts: readonly string[], batch = 256): tf.Tensor2D {
  const T = model.config.textLen;
  const { ids } = tokeniseCaptions(tok, texts, T);
  const parts: tf.Tensor2D[] = [];
  try {
    for (let s = 0; s < texts.length; s += batch) {
      const n = Math.min(batch, texts.length - s);
      parts.push(tf.tidy(() => model.encodeTexts(tf.tensor2d(ids.subarray(s * T, (s + n) * T), [n, T], "int32"))));
    }
    return tf.concat(parts) as tf.Tensor2D; // [N, D]
  } finally {
    tf.dispose(parts);
  }
}

/** Unit image embeddings [N, D] of the shard's images `indices` (all of them by default), `batch` at a time. */
export function embedImages(model: Clip, shard: Shard, indices?: ArrayLike<number>, batch = 256): tf.Tensor2D {
  const idx = indices ?? Int32Array.from({ length: shard.count }, (_, i) => i);
  const parts: tf.Tensor2D[] = [];
  try {
    for (let s = 0; s < idx.length; s += batch) {
      const chunk = Array.from({ length: Math.min(batch, idx.length - s) }, (_, k) => idx[s + k]);
      parts.push(tf.tidy(() => model.encodeImages(batchTensor(shard, chunk))));
    }
    return tf.concat(parts) as tf.Tensor2D; // [N, D]
  } finally {
    tf.dispose(parts);
  }
}

/** The mean of several prompt embeddings of the same labels ([L, D] each), re-normalised: [L, D]. */
export function ensemble(embeddings: readonly tf.Tensor2D[]): tf.Tensor2D {
  return tf.tidy(() => l2Normalize(tf.div(tf.addN(embeddings as tf.Tensor2D[]), embeddings.length) as tf.Tensor2D));
}

/** For each query [Q, D], the indices of its k most similar keys [K, D] (cosine; both unit), best first. */
export function topMatches(queries: tf.Tensor2D, keys: tf.Tensor2D, k: number): Int32Array[] {
  return tf.tidy(() => {
    const sim = tf.matMul(queries, tf.transpose(keys)); // [Q, K]
    const flat = tf.topk(sim, Math.min(k, keys.shape[0])).indices.dataSync() as Int32Array;
    const kk = Math.min(k, keys.shape[0]);
    return Array.from({ length: queries.shape[0] }, (_, q) => flat.slice(q * kk, (q + 1) * kk));
  });
}

/**
 * For each query i, the 0-based rank of key `target[i]` among all keys (how many keys score strictly higher):
 * rank < k is a hit at recall@k.
 */
export function ranksOf(queries: tf.Tensor2D, keys: tf.Tensor2D, target: ArrayLike<number>): Int32Array {
  const sim = tf.tidy(() => tf.matMul(queries, tf.transpose(keys)).dataSync() as Float32Array); // [Q, K] row-major
  const [q, k] = [queries.shape[0], keys.shape[0]];
  const ranks = new Int32Array(q);
  for (let i = 0; i < q; i++) {
    const row = sim.subarray(i * k, (i + 1) * k);
    const own = row[target[i]];
    let above = 0;
    for (let j = 0; j < k; j++) if (row[j] > own) above++;
    ranks[i] = above;
  }
  return ranks;
}

/** Share of ranks below k (recall@k), over the queries `where` selects (all by default). */
export function recallAt(ranks: Int32Array, k: number, where: (i: number) => boolean = () => true): number {
  let hits = 0;
  let n = 0;
  for (let i = 0; i < ranks.length; i++) {
    if (!where(i)) continue;
    n++;
    if (ranks[i] < k) hits++;
  }
  return n ? hits / n : NaN;
}
