// The linear-autoencoder baseline: PCA of flattened train images, scored on val/test by projecting onto the top k
// components. A learned codec that cannot beat this at the same number of latent numbers is not learning much.
//
// Fitting runs on the tfjs backend but avoids what is slow on wasm (matMul with transposeA/B): the D×D covariance
// is accumulated from row chunks whose transpose is built in JS, and the top components come from subspace
// iteration (Q·C products, plain matMul) with Cholesky-QR orthonormalisation (small Gram matrices factored in
// float64 JS) and a final Rayleigh–Ritz step. The block stays a tensor; only b×b matrices cross to JS.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { mulberry32, shuffleInPlace } from "../../lib/data/rng";
import { imageBytes, type Shard } from "../../lib/data/shard";
import { batchGradientMagnitude, batchMetrics, MetricAccumulator } from "../../lib/model/metrics";

export interface PcaModel {
  /** Per-pixel mean of the fitted images, length dim, values in [0, 1]. */
  mean: Float32Array;
  /** [k, dim] row-major; orthonormal rows, by decreasing variance. */
  components: Float32Array;
  k: number;
  /** H·W·C of the images it was fitted on. */
  dim: number;
  /** Variance of the data along each component (covariance eigenvalues, 1/N normalised), decreasing. */
  explainedVariance: number[];
  /** Total variance (trace of the covariance): 1 − Σ explained/total is the unexplained fraction. */
  totalVariance: number;
}

export interface FitOptions {
  /** Subspace-iteration steps; each costs one [b, D]×[D, D] matMul plus small ones. Default 30. */
  iterations?: number;
  /** Seeds the starting block and the subsample. Default 0. */
  seed?: number;
  /** Fit on at most this many images (a seeded random subset) to bound time. Default: all. */
  sampleLimit?: number;
}

const CHUNK_ROWS = 1024;

/** Fits the top maxK principal components of the shard's images (as [0, 1] floats, flattened HWC). */
export function fitPca(shard: Shard, maxK: number, options: FitOptions = {}): PcaModel {
  const dim = imageBytes(shard);
  const { iterations = 30, seed = 0, sampleLimit } = options;
  if (!Number.isInteger(maxK) || maxK < 1 || maxK > dim) throw new RangeError(`maxK must be an integer in 1..${dim}, got ${maxK}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  const rand = mulberry32(seed);
  const rows = sampleRows(shard.count, sampleLimit, rand);
  if (rows.length < 2) throw new Error(`PCA needs at least 2 images, got ${rows.length}`);

  const mean = rowMean(shard, rows, dim);
  const { cov, trace } = covariance(shard, rows, mean, dim);
  let q: tf.Tensor2D | undefined;
  try {
    // Oversampling: the extra directions speed up convergence of the last wanted ones.
    const block = Math.min(dim, maxK + Math.max(8, Math.ceil(maxK / 4)));
    const start = tf.tensor2d(
      Float32Array.from({ length: block * dim }, () => rand() - 0.5),
      [block, dim],
    );
    q = orthonormalize(start, rand);
    start.dispose();
    for (let it = 0; it < iterations; it++) {
      const y = tf.matMul(q, cov) as tf.Tensor2D;
      q.dispose();
      q = orthonormalize(y, rand);
      y.dispose();
    }
    // Rayleigh–Ritz: eigenpairs of the projected b×b matrix T = Q·C·Qᵀ rotate the block onto eigenvectors.
    const qq = q;
    const t = take(tf.tidy(() => tf.matMul(tf.matMul(qq, cov), tf.transpose(qq))));
    const { values, vectors } = jacobiEigen(symmetrize(Float64Array.from(t), block), block);
    const top = new Float32Array(maxK * block); // top[r, j] = vectors[j, r]
    for (let r = 0; r < maxK; r++) for (let j = 0; j < block; j++) top[r * block + j] = vectors[j * block + r];
    const components = take(tf.tidy(() => tf.matMul(tf.tensor2d(top, [maxK, block]), qq)));
    for (let r = 0; r < maxK; r++) fixSign(components.subarray(r * dim, (r + 1) * dim));
    return {
      mean: Float32Array.from(mean),
      components,
      k: maxK,
      dim,
      explainedVariance: values.slice(0, maxK).map((v) => Math.max(0, v)),
      totalVariance: trace,
    };
  } finally {
    cov.dispose();
    q?.dispose();
  }
}

/** Reconstructs batches from the first k components (k = 0: the mean image); call dispose() when done. */
export function pcaProjector(model: PcaModel, k: number): { reconstruct(images: tf.Tensor4D): tf.Tensor4D; dispose(): void } {
  if (!Number.isInteger(k) || k < 0 || k > model.k) throw new RangeError(`k must be an integer in 0..${model.k}, got ${k}`);
  const mean = tf.tensor2d(model.mean, [1, model.dim]);
  const comps = k ? tf.tensor2d(model.components.subarray(0, k * model.dim), [k, model.dim]) : undefined;
  const compsT = comps ? tf.transpose(comps) : undefined; // explicit: transposed matMul is slow on wasm
  return {
    reconstruct(images) {
      const [b, h, w, c] = images.shape;
      if (h * w * c !== model.dim) throw new Error(`images of ${h}×${w}×${c} do not match a PCA fitted on dim ${model.dim}`);
      return tf.tidy(() => {
        const flat = images.reshape([b, model.dim]);
        const rec = comps && compsT ? tf.matMul(tf.matMul(flat.sub(mean), compsT), comps).add(mean) : mean.tile([b, 1]);
        return rec.clipByValue(0, 1).reshape([b, h, w, c]) as tf.Tensor4D;
      });
    },
    dispose() {
      tf.dispose([mean, ...(comps ? [comps] : []), ...(compsT ? [compsT] : [])]);
    },
  };
}

/** MSE, PSNR of the mean MSE over the split, and mean SSIM of reconstructions from the first k components. */
export function evaluatePca(
  model: PcaModel,
  shard: Shard,
  k: number,
  batchSize = 256,
): { mse: number; psnr: number; ssim: number; sharpness: number } {
  if (imageBytes(shard) !== model.dim) throw new Error(`shard images hold ${imageBytes(shard)} values; the PCA was fitted on ${model.dim}`);
  const projector = pcaProjector(model, k);
  const acc = new MetricAccumulator();
  let gradRecon = 0;
  let gradReal = 0;
  try {
    for (const { images } of sequentialBatches(shard, batchSize)) {
      const rec = projector.reconstruct(images);
      try {
        const m = batchMetrics(images, rec);
        acc.add(images.shape[0], m.mse, m.ssim);
        gradRecon += batchGradientMagnitude(rec);
        gradReal += batchGradientMagnitude(images);
      } finally {
        tf.dispose([images, rec]);
      }
    }
  } finally {
    projector.dispose();
  }
  return { mse: acc.mse(), psnr: acc.psnr(), ssim: acc.ssim(), sharpness: gradRecon / gradReal };
}

function sampleRows(count: number, limit: number | undefined, rand: () => number): Int32Array {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
    throw new RangeError(`sampleLimit must be a positive integer, got ${limit}`);
  const all = Array.from({ length: count }, (_, i) => i);
  if (limit === undefined || limit >= count) return Int32Array.from(all);
  // Sorted back so reads stay sequential; the subset itself is what the seed decides.
  return Int32Array.from(shuffleInPlace(all, rand).slice(0, limit)).sort();
}

function rowMean(shard: Shard, rows: Int32Array, dim: number): Float64Array {
  const sum = new Float64Array(dim);
  for (const r of rows) {
    const src = shard.data.subarray(r * dim, (r + 1) * dim);
    for (let d = 0; d < dim; d++) sum[d] += src[d];
  }
  for (let d = 0; d < dim; d++) sum[d] /= 255 * rows.length;
  return sum;
}

/** C = XcᵀXc / N over centred rows, summed chunk by chunk; each chunk's transpose is laid out in JS. */
function covariance(shard: Shard, rows: Int32Array, mean: Float64Array, dim: number): { cov: tf.Tensor2D; trace: number } {
  let cov = tf.zeros([dim, dim]) as tf.Tensor2D;
  let trace = 0;
  for (let start = 0; start < rows.length; start += CHUNK_ROWS) {
    const n = Math.min(CHUNK_ROWS, rows.length - start);
    const x = new Float32Array(n * dim);
    const xT = new Float32Array(dim * n);
    for (let i = 0; i < n; i++) {
      const src = shard.data.subarray(rows[start + i] * dim, (rows[start + i] + 1) * dim);
      for (let d = 0; d < dim; d++) {
        const v = src[d] / 255 - mean[d];
        x[i * dim + d] = v;
        xT[d * n + i] = v;
        trace += v * v;
      }
    }
    const next = tf.tidy(() => cov.add(tf.matMul(tf.tensor2d(xT, [dim, n]), tf.tensor2d(x, [n, dim])))) as tf.Tensor2D;
    cov.dispose();
    cov = next;
  }
  const scaled = tf.tidy(() => cov.div(rows.length)) as tf.Tensor2D;
  cov.dispose();
  return { cov: scaled, trace: trace / rows.length };
}

/**
 * Orthonormal rows spanning the rows of y (a new tensor; y is left alone). Cholesky-QR twice: G = Y·Yᵀ on the
 * backend, G = L·Lᵀ in float64, Q = L⁻¹·Y; the second pass repairs float32 rounding of the first. When a row is
 * (nearly) dependent on those before it, float32 Gram matrices cannot separate it, so we fall back to float64
 * Gram–Schmidt in JS, which also replaces vanished rows (rank-deficient data) with seeded random ones.
 */
function orthonormalize(y: tf.Tensor2D, rand: () => number): tf.Tensor2D {
  const [b, dim] = y.shape;
  let q = y;
  for (let pass = 0; pass < 2; pass++) {
    const cur = q;
    const g = take(tf.tidy(() => tf.matMul(cur, tf.transpose(cur))));
    const lInv = inverseCholesky(Float64Array.from(g), b, pass === 0 ? 1e-4 : 0.25);
    if (!lInv) {
      if (q !== y) q.dispose();
      const rows = Float64Array.from(y.dataSync());
      gramSchmidtRows(rows, b, dim, rand);
      return tf.tensor2d(Float32Array.from(rows), [b, dim]);
    }
    const next = tf.tidy(() => tf.matMul(tf.tensor2d(lInv, [b, b]), cur)) as tf.Tensor2D;
    if (q !== y) q.dispose();
    q = next;
  }
  return q;
}

/**
 * L⁻¹ for G = L·Lᵀ (row-major, float32 for upload), or null when some pivot keeps less than `minFraction` of its
 * row's squared norm, i.e. the row is too close to the span of the earlier ones to orthogonalise in float32.
 */
function inverseCholesky(g: Float64Array, n: number, minFraction: number): Float32Array | null {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = g[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > minFraction * g[i * n + i]) || !(g[i * n + i] > 0)) return null;
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  // Forward substitution, column by column of the identity.
  const inv = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = c; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = c; k < i; k++) s -= l[i * n + k] * inv[k * n + c];
      inv[i * n + c] = s / l[i * n + i];
    }
  }
  return Float32Array.from(inv);
}

/**
 * Modified Gram–Schmidt on the rows in float64, each row projected twice ("twice is enough"). A row that
 * vanishes is replaced by a seeded random one, so the block always stays full rank.
 */
function gramSchmidtRows(q: Float64Array, b: number, dim: number, rand: () => number): void {
  for (let i = 0; i < b; i++) {
    const row = q.subarray(i * dim, (i + 1) * dim);
    for (let attempt = 0; ; attempt++) {
      const before = Math.sqrt(dot(row, row));
      for (let pass = 0; pass < 2; pass++) {
        for (let j = 0; j < i; j++) {
          const prev = q.subarray(j * dim, (j + 1) * dim);
          const p = dot(row, prev);
          for (let d = 0; d < dim; d++) row[d] -= p * prev[d];
        }
      }
      const norm = Math.sqrt(dot(row, row));
      if (norm > 1e-6 * before && norm > 1e-30) {
        for (let d = 0; d < dim; d++) row[d] /= norm;
        break;
      }
      if (attempt > 10) throw new Error("Gram–Schmidt could not complete the basis");
      for (let d = 0; d < dim; d++) row[d] = rand() - 0.5;
    }
  }
}

function symmetrize(t: Float64Array, n: number): Float64Array {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) t[i * n + j] = t[j * n + i] = (t[i * n + j] + t[j * n + i]) / 2;
  return t;
}

/** Cyclic Jacobi rotations for a small symmetric matrix (destroys `a`). */
export function jacobiEigen(a: Float64Array, n: number): { values: number[]; vectors: Float64Array } {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += a[i * n + i] ** 2;
      for (let j = i + 1; j < n; j++) off += a[i * n + j] ** 2;
    }
    // Off-diagonal mass at ~1e-12 of the diagonal's: far below float32 inputs, above float64 rounding (which a
    // tighter test could never get under, sweeping to the cap).
    if (off <= 1e-24 * diag) break;
    for (let p = 0; p < n; p++) {
      for (let r = p + 1; r < n; r++) {
        const apr = a[p * n + r];
        if (Math.abs(apr) < 1e-300) continue;
        const theta = (a[r * n + r] - a[p * n + p]) / (2 * apr);
        const tan = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const cos = 1 / Math.sqrt(tan * tan + 1);
        const sin = tan * cos;
        // Rotate columns p and r, then rows p and r (A ← JᵀAJ), and accumulate V ← VJ.
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p],
            akr = a[k * n + r];
          a[k * n + p] = cos * akp - sin * akr;
          a[k * n + r] = sin * akp + cos * akr;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k],
            ark = a[r * n + k];
          a[p * n + k] = cos * apk - sin * ark;
          a[r * n + k] = sin * apk + cos * ark;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p],
            vkr = v[k * n + r];
          v[k * n + p] = cos * vkp - sin * vkr;
          v[k * n + r] = sin * vkp + cos * vkr;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y] - a[x * n + x] || x - y);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values: order.map((i) => a[i * n + i]), vectors };
}

/** Eigenvectors have no sign; pin it (largest-magnitude entry positive) so fits are comparable across runs. */
function fixSign(row: Float32Array): void {
  let best = 0;
  for (let d = 1; d < row.length; d++) if (Math.abs(row[d]) > Math.abs(row[best])) best = d;
  if (row[best] < 0) for (let d = 0; d < row.length; d++) row[d] = -row[d];
}

/** A tensor's values, disposing it (reading outside tf.tidy, whose result walk is slow on big typed arrays). */
export function take(t: tf.Tensor): Float32Array {
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}
