// How far apart two generated pictures are, one definition for the server and the eval (issue 29, part 3): the
// server's rerank keeps its n pictures apart by it (./rerank.ts), and training/gpt/variety.ts measures every
// sampling setting's near-copies by it. Pictures are compared as H·W·3 grey levels 0–255, rounded and clipped as
// the server's PNGs are (./batch.ts), so a distance measured on decoded pixels is the one between the stored images.
import * as tf from "@tensorflow/tfjs";

/** The "four images within 8 pixels of each other", read as a mean absolute difference ≤ 8 grey levels. */
export const NEAR_COPY_LEVELS = 8;

/** Mean absolute difference of two pictures of equal size, in the units given (grey levels here); not RMSE. */
export function pairDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new Error(`pictures of ${a.length} and ${b.length} values cannot be compared`);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/**
 * Pictures [N, …] in [0, 1] (decoded pixels, any shape after the first axis) as N rows of grey levels, rounded then
 * clipped to 0–255 as ./batch.ts does before encoding the PNGs. Synchronous because the eval's variety tallies
 * (training/gpt/variety.ts) are.
 */
export function toLevels(pixels: tf.Tensor): Float32Array[] {
  const n = pixels.shape[0] ?? 0;
  const flat = tf.tidy(() => tf.clipByValue(tf.round(tf.mul(pixels, 255)), 0, 255).dataSync() as Float32Array);
  const d = n ? flat.length / n : 0;
  return Array.from({ length: n }, (_, i) => flat.subarray(i * d, (i + 1) * d));
}
