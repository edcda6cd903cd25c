// ICA beside PCA: FastICA (Hyvärinen & Oja 2000, "Independent component analysis: algorithms and applications",
// §6: symmetric/parallel FastICA with the logcosh contrast G(u) = log cosh u, g = tanh, g' = 1 − tanh²) on
// PCA-whitened images. PCA finds orthogonal directions of maximal variance; ICA rotates the same whitened
// k-dimensional subspace to make the coefficients as non-Gaussian (sparse, heavy-tailed) as possible.
//
// Because ICA only rotates inside the PCA subspace, reconstructing from all k sources gives exactly the PCA
// reconstruction (x̂ = mean + Vᵀ·V·(x − mean) either way). The two codes differ when only a few terms are kept per
// image: the m largest-|coefficient| terms of an orthonormal PCA code versus those of the (non-orthogonal) ICA
// code (./linear-code.ts scores both). That comparison, and the excess kurtosis of the coefficients, is what this is for.
//
// Big N×k products run on the tfjs backend as plain matMuls (transposes laid out in JS, as in training/vq/pca.ts,
// because transposed matMul is slow on wasm); every k×k matrix is float64 JS.
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../../lib/data/rng";
import { imageBytes, type Shard } from "../../lib/data/shard";
import { jacobiEigen, take, type PcaModel } from "../vq/pca";

export interface IcaModel {
  /** Per-pixel mean of the fitted images, length dim. */
  mean: Float32Array;
  /** [k, dim] rows of the mixing matrix A in pixel space: x ≈ mean + Σᵢ sᵢ·aᵢ. By decreasing ‖aᵢ‖². */
  components: Float32Array;
  /** [k, dim] the unmixing in pixel space: s = filters·(x − mean) (= W·K·V). */
  filters: Float32Array;
  /** [k, dim] PCA whitening: z = whitener·(x − mean) = Λ^{-1/2}·Vᵀ(x − mean), identity covariance on the fit data. */
  whitener: Float32Array;
  /** [k, k] row-major W, orthogonal: s = W·z. */
  unmixing: Float64Array;
  k: number;
  dim: number;
  /** Fixed-point iterations run, and whether the tolerance was reached before maxIter. */
  iterations: number;
  converged: boolean;
  /** Variance of x each component carries (‖aᵢ‖², sources have unit variance); sums to PCA's Σλ. */
  explainedVariance: number[];
  /** Excess kurtosis of each source on the fit data. */
  kurtosis: number[];
}

export interface IcaOptions {
  /** Default 200. */
  maxIter?: number;
  /** Stop when max |1 − |diag(W_new·W_oldᵀ)|| < tol. Default 1e-4. */
  tol?: number;
  /** Seeds the initial W. Default 0. */
  seed?: number;
}

const CHUNK_ROWS = 1024;

/**
 * FastICA with k = pca.k components on the shard's images (flattened HWC in [0, 1]). Whitening uses the PCA's
 * components V; the k×k covariance of the projections is re-diagonalised in float64 (a Rayleigh–Ritz step inside
 * the subspace), so the whitened data has identity covariance even where the subspace iteration was not fully
 * converged: z = Λ^{-1/2}·Uᵀ·V·(x − mean) with U = I for exact eigenvectors.
 */
export function fitIca(shard: Shard, pca: PcaModel, options: IcaOptions = {}): IcaModel {
  const { maxIter = 200, tol = 1e-4, seed = 0 } = options;
  const { k, dim } = pca;
  if (imageBytes(shard) !== dim) throw new Error(`shard images hold ${imageBytes(shard)} values; the PCA was fitted on ${dim}`);
  if (!Number.isInteger(maxIter) || maxIter < 1) throw new RangeError(`maxIter must be a positive integer, got ${maxIter}`);
  if (!(tol > 0)) throw new RangeError(`tol must be > 0, got ${tol}`);
  const n = shard.count;
  if (n < 2) throw new Error(`ICA needs at least 2 images, got ${n}`);

  // y = V·(x − mean) for every image: [n, k], float64.
  const y = projectShard(shard, pca.mean, pca.components, k);
  const yMean = columnMean(y, n, k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) y[i * k + j] -= yMean[j];
  const { values: lambda, vectors: u } = jacobiEigen(gram(y, n, k), k);
  if (!(lambda[k - 1] > 0)) throw new Error(`the data has rank < k = ${k} (smallest variance ${lambda[k - 1]}); lower k`);
  const kWhite = new Float64Array(k * k); // K = Λ^{-1/2}·Uᵀ
  const kUnwhite = new Float64Array(k * k); // K⁻ᵀ = Λ^{1/2}·Uᵀ
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      kWhite[i * k + j] = u[j * k + i] / Math.sqrt(lambda[i]);
      kUnwhite[i * k + j] = u[j * k + i] * Math.sqrt(lambda[i]);
    }
  const z = matMulT(y, n, k, kWhite, k); // [n, k] = y·Kᵀ

  let w = symmetricDecorrelation(gaussianMatrix(k, mulberry32(seed)), k);
  let iterations = 0;
  let converged = false;
  const zT32 = new Float32Array(k * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) zT32[j * n + i] = z[i * k + j];
  const zT = tf.tensor2d(zT32, [k, n]);
  const zRows = tf.tensor2d(Float32Array.from(z), [n, k]);
  try {
    while (iterations < maxIter) {
      iterations++;
      const wt = w;
      // E[g(WZ)·Zᵀ] and E[g'(WZ)] over the images; U = W·Zᵀ is [k, n].
      const [gzT, gpT] = tf.tidy(() => {
        const g = tf.tanh(tf.matMul(tf.tensor2d(Float32Array.from(wt), [k, k]), zT));
        return [tf.matMul(g, zRows).div(n), tf.sub(1, tf.square(g)).mean(1)];
      });
      const gz = take(gzT);
      const gp = take(gpT);
      // Fixed point for every row at once: w⁺ = E[z·g(wᵀz)] − E[g'(wᵀz)]·w, then W ← (W·Wᵀ)^{-1/2}·W.
      const next = new Float64Array(k * k);
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) next[i * k + j] = gz[i * k + j] - gp[i] * w[i * k + j];
      const decorrelated = symmetricDecorrelation(next, k);
      let lim = 0;
      for (let i = 0; i < k; i++) {
        let d = 0;
        for (let j = 0; j < k; j++) d += decorrelated[i * k + j] * w[i * k + j];
        lim = Math.max(lim, Math.abs(1 - Math.abs(d)));
      }
      w = decorrelated;
      if (lim < tol) {
        converged = true;
        break;
      }
    }
  } finally {
    tf.dispose([zT, zRows]);
  }

  // Order by variance carried (‖row of W·K⁻ᵀ‖², V has orthonormal rows) and pick each source's sign so that its
  // heavy tail is positive: a component then shows what an image adds where the source is active.
  const s = matMulT(z, n, k, w, k); // [n, k] = Z·Wᵀ
  const stats = moments(s, n, k);
  const aSmall = matMul(w, k, k, kUnwhite, k); // [k, k]
  const variance = Array.from({ length: k }, (_, i) => rowNorm2(aSmall, i, k));
  const order = Array.from({ length: k }, (_, i) => i).sort((a, b) => variance[b] - variance[a] || a - b);
  const signs = order.map((i) => (stats.skew[i] < 0 ? -1 : 1));
  const wSorted = new Float64Array(k * k);
  order.forEach((src, dst) => {
    for (let j = 0; j < k; j++) wSorted[dst * k + j] = signs[dst] * w[src * k + j];
  });

  const v = Float64Array.from(pca.components);
  const mean = Float64Array.from(pca.mean);
  for (let d = 0; d < dim; d++) for (let j = 0; j < k; j++) mean[d] += yMean[j] * v[j * dim + d];
  return {
    mean: Float32Array.from(mean),
    components: Float32Array.from(matMul(matMul(wSorted, k, k, kUnwhite, k), k, k, v, dim)),
    filters: Float32Array.from(matMul(matMul(wSorted, k, k, kWhite, k), k, k, v, dim)),
    whitener: Float32Array.from(matMul(kWhite, k, k, v, dim)),
    unmixing: wSorted,
    k,
    dim,
    iterations,
    converged,
    explainedVariance: order.map((i) => variance[i]),
    kurtosis: order.map((i) => stats.excessKurtosis[i]),
  };
}

/** ICA sources s = filters·(x − mean) of a batch: [B, k]. */
export function icaSources(model: IcaModel, images: tf.Tensor4D): tf.Tensor2D {
  return applyRows(model.mean, model.filters, model.k, images);
}

/** Whitened PCA coordinates z = Λ^{-1/2}·Vᵀ(x − mean) of a batch: [B, k]. */
export function whiten(model: IcaModel, images: tf.Tensor4D): tf.Tensor2D {
  return applyRows(model.mean, model.whitener, model.k, images);
}

/** Per-column mean, variance, skewness and excess kurtosis (E[(x − μ)⁴]/σ⁴ − 3) of an [n, k] row-major matrix. */
export function moments(
  x: ArrayLike<number>,
  n: number,
  k: number,
): { mean: number[]; variance: number[]; skew: number[]; excessKurtosis: number[] } {
  const mean = columnMean(x, n, k);
  const m2 = new Float64Array(k);
  const m3 = new Float64Array(k);
  const m4 = new Float64Array(k);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < k; j++) {
      const d = x[i * k + j] - mean[j];
      const d2 = d * d;
      m2[j] += d2;
      m3[j] += d2 * d;
      m4[j] += d2 * d2;
    }
  const variance = Array.from(m2, (v) => v / n);
  return {
    mean: Array.from(mean),
    variance,
    skew: variance.map((v, j) => m3[j] / n / v ** 1.5),
    excessKurtosis: variance.map((v, j) => m4[j] / n / (v * v) - 3),
  };
}

/** W ← (W·Wᵀ)^{-1/2}·W, with (W·Wᵀ)^{-1/2} = E·Λ^{-1/2}·Eᵀ from the eigenvectors of W·Wᵀ: rows become orthonormal. */
export function symmetricDecorrelation(w: Float64Array, k: number): Float64Array {
  const { values, vectors: e } = jacobiEigen(matMulT(w, k, k, w, k), k);
  const invSqrt = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let r = 0; r < k; r++) s += (e[i * k + r] * e[j * k + r]) / Math.sqrt(values[r]);
      invSqrt[i * k + j] = s;
    }
  return matMul(invSqrt, k, k, w, k);
}

/** rows·(x − mean) for a batch: [B, k]. */
function applyRows(mean: Float32Array, rows: Float32Array, k: number, images: tf.Tensor4D): tf.Tensor2D {
  const dim = mean.length;
  return tf.tidy(() => tf.matMul(flatten(images, dim).sub(tf.tensor2d(mean, [1, dim])), tf.tensor2d(transpose(rows, k, dim), [dim, k])));
}

export function flatten(images: tf.Tensor4D, dim: number): tf.Tensor2D {
  const [b, h, w, c] = images.shape;
  if (h * w * c !== dim) throw new Error(`images of ${h}×${w}×${c} do not match a code fitted on dim ${dim}`);
  return images.reshape([b, dim]); // [B, H·W·C]
}

/** V·(x − mean) for every image of the shard, [n, k] float64, chunk by chunk on the backend. */
function projectShard(shard: Shard, mean: Float32Array, rows: Float32Array, k: number): Float64Array {
  const dim = mean.length;
  const out = new Float64Array(shard.count * k);
  const rowsT = tf.tensor2d(transpose(rows, k, dim), [dim, k]);
  try {
    for (let start = 0; start < shard.count; start += CHUNK_ROWS) {
      const n = Math.min(CHUNK_ROWS, shard.count - start);
      const x = new Float32Array(n * dim);
      const src = shard.data.subarray(start * dim, (start + n) * dim);
      for (let i = 0; i < n * dim; i++) x[i] = src[i] / 255 - mean[i % dim];
      out.set(take(tf.tidy(() => tf.matMul(tf.tensor2d(x, [n, dim]), rowsT))), start * k);
    }
  } finally {
    rowsT.dispose();
  }
  return out;
}

function gaussianMatrix(k: number, rand: () => number): Float64Array {
  // Box–Muller; 1 − rand() is in (0, 1], so the log is finite.
  return Float64Array.from({ length: k * k }, () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
}

function columnMean(x: ArrayLike<number>, n: number, k: number): Float64Array {
  const mean = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) mean[j] += x[i * k + j];
  for (let j = 0; j < k; j++) mean[j] /= n;
  return mean;
}

/** XᵀX / n of an [n, k] matrix. */
function gram(x: Float64Array, n: number, k: number): Float64Array {
  const g = new Float64Array(k * k);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < k; a++) {
      const xa = x[i * k + a];
      for (let b = a; b < k; b++) g[a * k + b] += xa * x[i * k + b];
    }
  for (let a = 0; a < k; a++)
    for (let b = a; b < k; b++) {
      g[a * k + b] /= n;
      g[b * k + a] = g[a * k + b];
    }
  return g;
}

/** [r, c]·[c, q] row-major, float64. */
function matMul(a: ArrayLike<number>, r: number, c: number, b: ArrayLike<number>, q: number): Float64Array {
  const out = new Float64Array(r * q);
  for (let i = 0; i < r; i++)
    for (let t = 0; t < c; t++) {
      const ait = a[i * c + t];
      if (ait === 0) continue;
      for (let j = 0; j < q; j++) out[i * q + j] += ait * b[t * q + j];
    }
  return out;
}

/** [r, c]·[q, c]ᵀ row-major, float64. */
function matMulT(a: ArrayLike<number>, r: number, c: number, b: ArrayLike<number>, q: number): Float64Array {
  const out = new Float64Array(r * q);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < q; j++) {
      let s = 0;
      for (let t = 0; t < c; t++) s += a[i * c + t] * b[j * c + t];
      out[i * q + j] = s;
    }
  return out;
}

export function transpose(a: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

export function rowNorm2(a: ArrayLike<number>, i: number, c: number): number {
  let s = 0;
  for (let j = 0; j < c; j++) s += a[i * c + j] ** 2;
  return s;
}
