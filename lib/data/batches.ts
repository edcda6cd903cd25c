// Streams a shard as float32 image batches in [0, 1], shuffled per epoch with a seed, so a training run can be
// repeated exactly. The caller owns (and disposes) each batch's tensor.
import * as tf from "@tensorflow/tfjs";
import { drawFromCumulative, mulberry32, shuffleInPlace } from "./rng";
import { imageBytes, type Shard } from "./shard";

export interface Batch {
  /** [B, H, W, C], values in [0, 1] */
  images: tf.Tensor4D;
  /** Which shard images are in the batch, in order: to look up their captions. */
  indices: Int32Array;
}

/** Copies the chosen images into one float32 tensor. */
export function batchTensor(shard: Shard, indices: ArrayLike<number>): tf.Tensor4D {
  const n = imageBytes(shard);
  const out = new Float32Array(indices.length * n);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (i < 0 || i >= shard.count) throw new RangeError(`image ${i} is outside 0..${shard.count - 1}`);
    const src = shard.data.subarray(i * n, (i + 1) * n);
    const base = b * n;
    for (let k = 0; k < n; k++) out[base + k] = src[k] / 255;
  }
  return tf.tensor4d(out, [indices.length, shard.height, shard.width, shard.channels]);
}

export interface BatchStreamOptions {
  batchSize: number;
  seed: number;
  /** Default true; false streams in file order (still endlessly). */
  shuffle?: boolean;
}

/**
 * Endless seeded index batches: each epoch is a fresh permutation of 0..count-1; a batch never spans two epochs
 * (the tail shorter than batchSize is dropped, so every batch has the same shape).
 */
export class IndexStream {
  private readonly rand: () => number;
  private order: Int32Array;
  private cursor = 0;
  epoch = 0;

  constructor(
    private readonly count: number,
    private readonly batchSize: number,
    seed: number,
    private readonly shuffle = true,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    if (count < batchSize) throw new Error(`the data holds ${count} items, fewer than one batch of ${batchSize}`);
    this.rand = mulberry32(seed);
    this.order = this.permutation();
  }

  private permutation(): Int32Array {
    const idx = Array.from({ length: this.count }, (_, i) => i);
    if (this.shuffle) shuffleInPlace(idx, this.rand);
    return Int32Array.from(idx);
  }

  next(): Int32Array {
    if (this.cursor + this.batchSize > this.order.length) {
      this.epoch++;
      this.order = this.permutation();
      this.cursor = 0;
    }
    const indices = this.order.slice(this.cursor, this.cursor + this.batchSize);
    this.cursor += this.batchSize;
    return indices;
  }

  /** Advances past n batches: resuming a run replays the same data order. */
  skip(n: number): void {
    for (let i = 0; i < n; i++) this.next();
  }
}

/**
 * Endless seeded index batches drawn with replacement in proportion to `weights` (e.g. to balance a skewed
 * corpus); `skip(n)` replays n batches, so a resumed run draws the same ones.
 */
export class WeightedIndexStream {
  private readonly rand: () => number;
  private readonly cumulative: Float64Array;

  constructor(
    weights: ArrayLike<number>,
    private readonly batchSize: number,
    seed: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    this.cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`sampling weight ${i} is ${w}; weights must be finite and ≥ 0`);
      total += w;
      this.cumulative[i] = total;
    }
    if (!(total > 0)) throw new Error("sampling weights sum to 0: nothing to draw");
    this.rand = mulberry32(seed);
  }

  next(): Int32Array {
    const out = new Int32Array(this.batchSize);
    const c = this.cumulative;
    const total = c[c.length - 1];
    for (let b = 0; b < this.batchSize; b++) out[b] = drawFromCumulative(c, this.rand() * total);
    return out;
  }

  skip(n: number): void {
    for (let i = 0; i < n; i++) this.next();
  }
}

/** Endless shuffled image batches from a shard (see IndexStream). */
export class BatchStream {
  private readonly indices: IndexStream;

  constructor(
    private readonly shard: Shard,
    options: BatchStreamOptions,
  ) {
    this.indices = new IndexStream(shard.count, options.batchSize, options.seed, options.shuffle !== false);
  }

  get epoch(): number {
    return this.indices.epoch;
  }

  skip(n: number): void {
    this.indices.skip(n);
  }

  next(): Batch {
    const indices = this.indices.next();
    return { images: batchTensor(this.shard, indices), indices };
  }
}

/** Every image once, in file order, the last batch possibly shorter: for evaluation. */
export function* sequentialBatches(shard: Shard, batchSize: number): Generator<Batch> {
  for (let start = 0; start < shard.count; start += batchSize) {
    const indices = Int32Array.from({ length: Math.min(batchSize, shard.count - start) }, (_, k) => start + k);
    yield { images: batchTensor(shard, indices), indices };
  }
}
