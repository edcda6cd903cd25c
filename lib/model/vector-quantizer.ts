// VQ-VAE bottleneck (van den Oord et al. 2017): each encoder vector z_e is replaced by its nearest codebook entry
// e_k; gradients pass straight through to z_e. The codebook learns either from the codebook loss
// ‖sg[z_e] − e‖² or, by default, from exponential moving averages of the vectors assigned to each code
// (appendix A.1), which trains faster and more stably. Codes unused for a long while are restarted from encoder
// outputs the codebook represents worst, so the whole codebook stays in use without splitting dense clusters.
import * as tf from "@tensorflow/tfjs";
import { drawFromCumulative, mulberry32 } from "../data/rng";
import { oneHotFloat } from "../tensor/gradients";
import { stopGradient, straightThrough } from "./layers";
import type { ParamStore } from "./params";
import type { QuantizeOptions, QuantizeResult, Quantizer } from "./quantizer";
import type { VQConfig } from "./vq-config";

/** Laplace smoothing of the EMA cluster sizes, so a code with no members never divides by zero. */
const EMA_EPS = 1e-5;

export interface EmaState {
  /** N_k: EMA of how many vectors code k received per step. [K] */
  count: tf.Tensor1D;
  /** m_k: EMA of the sum of those vectors. [K, D] */
  sum: tf.Tensor2D;
}

/** One EMA step (pure): new count, sum, and codebook e_k = m_k / N̂_k. z: [N, D], codes: [N]. */
export function emaStep(state: EmaState, z: tf.Tensor2D, codes: tf.Tensor1D, decay: number): EmaState & { embedding: tf.Tensor2D } {
  return tf.tidy(() => {
    const k = state.count.shape[0];
    // Per code, how many vectors it received and their sum: a scatter-add (scatterND sums updates that share an
    // index), not onehotᵀ · z — on tfjs-wasm the [N, K] one-hot and its transposed matMul took ~74 ms a step at
    // N 4,096, K 512 against 0.7 ms for the scatter, most of the VQ-VAE trainer's afterStep.
    const at = tf.reshape(codes, [-1, 1]); // [N, 1]
    const n = tf.scatterND(at, tf.ones([codes.shape[0]]), [k]); // [K]
    const s = tf.scatterND(at, z, [k, z.shape[1]]); // [K, D]
    const count = tf.add(tf.mul(state.count, decay), tf.mul(n, 1 - decay)) as tf.Tensor1D;
    const sum = tf.add(tf.mul(state.sum, decay), tf.mul(s, 1 - decay)) as tf.Tensor2D;
    const total = tf.sum(count);
    const smoothed = tf.mul(tf.div(tf.add(count, EMA_EPS), tf.add(total, k * EMA_EPS)), total); // [K]
    const embedding = tf.div(sum, tf.expandDims(smoothed, 1)) as tf.Tensor2D; // [K, D]
    return { count, sum, embedding };
  });
}

/** Squared distances between every vector and every codebook entry. z: [N, D], e: [K, D] → [N, K]. */
export function pairwiseSqDist(z: tf.Tensor2D, e: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const zz = tf.sum(tf.square(z), 1, true); // [N, 1]
    const ee = tf.reshape(tf.sum(tf.square(e), 1), [1, -1]); // [1, K]
    // An explicit transpose then a plain matMul: the wasm backend's transposed matMul is far slower.
    return tf.add(tf.sub(zz, tf.mul(tf.matMul(z, tf.transpose(e)), 2)), ee) as tf.Tensor2D;
  });
}

export class VectorQuantizer implements Quantizer {
  readonly kind = "vq";
  readonly inputDim: number;
  private readonly embedding: tf.Variable;
  private readonly count?: tf.Variable;
  private readonly sum?: tf.Variable;
  private restartSeed: number;
  /** update() calls so far in this process: dead codes are looked for every `restartEvery` of them. */
  private updates = 0;

  constructor(
    store: ParamStore,
    private readonly c: VQConfig,
  ) {
    this.inputDim = c.embedDim;
    const k = c.codebookSize;
    this.embedding = store.add("vq.embedding", tf.randomUniform([k, c.embedDim], -1 / k, 1 / k, "float32", store.seed()), !c.ema);
    if (c.ema) {
      // Counts start at zero: every code is "dead" at the first update and is restarted from encoder outputs,
      // which seeds the codebook from data (like a k-means initialisation).
      this.count = store.add("vq.emaCount", tf.zeros([k]), false);
      this.sum = store.add("vq.emaSum", tf.zeros([k, c.embedDim]), false);
    }
    this.restartSeed = store.seed();
  }

  quantize(zE: tf.Tensor4D, _options: QuantizeOptions): QuantizeResult {
    return tf.tidy(() => {
      const [b, h, w, d] = zE.shape;
      const z = tf.reshape(zE, [b * h * w, d]) as tf.Tensor2D; // [N, D]
      const e = this.embedding as unknown as tf.Tensor2D;
      const codes = tf.argMin(pairwiseSqDist(z, e), 1) as tf.Tensor1D; // [N] int32
      const zq = tf.matMul(oneHotFloat(codes, this.c.codebookSize) as tf.Tensor2D, e); // [N, D]
      const commitment = tf.mean(tf.square(tf.sub(z, stopGradient(zq)))) as tf.Scalar;
      const logs: Record<string, tf.Scalar> = { commitment };
      let loss = tf.mul(commitment, this.c.beta) as tf.Scalar;
      if (!this.c.ema) {
        const codebook = tf.mean(tf.square(tf.sub(stopGradient(z), zq))) as tf.Scalar;
        logs.codebook = codebook;
        loss = tf.add(loss, codebook) as tf.Scalar;
      }
      return {
        zQ: tf.reshape(straightThrough(z, zq), [b, h, w, d]) as tf.Tensor4D, // [B, h, w, D]
        codes: tf.reshape(codes, [b, h, w]) as tf.Tensor3D, // [B, h, w]
        loss,
        logs,
      };
    });
  }

  embed(codes: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w] = codes.shape;
      const flat = tf.reshape(codes, [b * h * w]); // [N]
      const zq = tf.matMul(oneHotFloat(flat, this.c.codebookSize) as tf.Tensor2D, this.embedding as unknown as tf.Tensor2D);
      return tf.reshape(zq, [b, h, w, this.c.embedDim]) as tf.Tensor4D; // [B, h, w, D]
    });
  }

  async update(zE: tf.Tensor4D, codes: tf.Tensor3D): Promise<void> {
    if (!this.count || !this.sum) return;
    const count = this.count;
    const sum = this.sum;
    const [b, h, w, d] = zE.shape;
    tf.tidy(() => {
      const z = tf.reshape(zE, [b * h * w, d]) as tf.Tensor2D; // [N, D]
      const next = emaStep(
        { count: count as unknown as tf.Tensor1D, sum: sum as unknown as tf.Tensor2D },
        z,
        tf.reshape(codes, [-1]) as tf.Tensor1D,
        this.c.emaDecay,
      );
      count.assign(next.count);
      sum.assign(next.sum);
      this.embedding.assign(next.embedding);
    });
    const check = this.updates++ % this.c.restartEvery === 0;
    if (!check) return;
    // An async read: the WebGPU backend cannot read synchronously in Node.
    const counts = (await count.data()) as Float32Array;
    const dead = deadCodes(counts, (b * h * w) / counts.length, this.c.deadCodeThreshold);
    if (!dead.length) return;
    const z = tf.reshape(zE, [b * h * w, d]) as tf.Tensor2D; // [N, D]
    // The very first update finds every code dead (counts start at zero): seed the codebook from uniformly drawn
    // encoder outputs. Later restarts draw outputs with probability ∝ their squared distance to the nearest code
    // (k-means++, Arthur & Vassilvitskii 2007): the vectors the codebook represents worst, never a dense cluster
    // (a white background) that is already well represented.
    let weights: Float32Array | null = null;
    if (dead.length < counts.length) {
      const dist = tf.tidy(() => tf.min(pairwiseSqDist(z, this.embedding as unknown as tf.Tensor2D), 1)); // [N]
      weights = (await dist.data()) as Float32Array;
      dist.dispose();
    }
    this.restartSeed = (Math.imul(this.restartSeed, 1664525) + 1013904223) >>> 0;
    const picks = pickRows(weights, z.shape[0], dead.length, this.restartSeed);
    tf.tidy(() => this.restart(z, dead, picks));
    z.dispose();
  }

  /** Dead codes take the picked encoder outputs (plus a little noise) with a count of one vector's worth. */
  private restart(z: tf.Tensor2D, dead: number[], picks: Int32Array): void {
    const k = this.c.codebookSize;
    const fresh = tf.add(
      tf.gather(z, tf.tensor1d(picks, "int32")),
      tf.randomNormal([dead.length, z.shape[1]], 0, 1e-3, "float32", this.restartSeed),
    ); // [dead, D]
    const at = tf.tensor2d(dead, [dead.length, 1], "int32");
    const mask = tf.reshape(tf.scatterND(at, tf.ones([dead.length]), [k]), [-1, 1]); // [K, 1]
    const placed = tf.scatterND(at, fresh, [k, z.shape[1]]); // [K, D]
    const keep = tf.sub(1, mask);
    // A restarted code starts with a count of 1 (one vector's worth), so it has time to attract vectors.
    this.embedding.assign(tf.add(tf.mul(this.embedding, keep), placed));
    this.sum!.assign(tf.add(tf.mul(this.sum!, keep), placed));
    this.count!.assign(tf.add(tf.mul(this.count!, tf.reshape(keep, [-1])), tf.reshape(mask, [-1])));
  }
}

/**
 * Codes whose EMA count is below `threshold` × the mean count (`mean` = vectors per step / K). Relative to the
 * mean, so the rule means the same at any batch size.
 */
export function deadCodes(counts: Float32Array, mean: number, threshold: number): number[] {
  const dead: number[] = [];
  for (let k = 0; k < counts.length; k++) if (counts[k] < threshold * mean) dead.push(k);
  return dead;
}

/** `count` row indices in [0, n): uniform when `weights` is null, else with probability ∝ weight (with replacement). */
export function pickRows(weights: Float32Array | null, n: number, count: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const out = new Int32Array(count);
  if (!weights) {
    for (let i = 0; i < count; i++) out[i] = Math.min(n - 1, Math.floor(rand() * n));
    return out;
  }
  const cdf = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cdf[i] = total += Math.max(0, weights[i]);
  for (let i = 0; i < count; i++) out[i] = drawFromCumulative(cdf, rand() * total);
  return out;
}
