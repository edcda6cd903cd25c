// The baseline a flow's bits/dim is reported against: a diagonal Gaussian on the same dequantised pixels
// y = (x + u)/256, one mean and variance per dimension fitted on the training images. It knows each position's
// usual colour and spread and nothing of how neighbouring pixels go together, which is what the flow adds.
// Pure arithmetic on the uint8 images (no tensors): the moments of y and the expected log-density over u are in
// closed form, so the baseline's bits/dim are exact, not sampled.

export interface DiagonalGaussian {
  /** μ_d and σ²_d of y per dimension (D = H·W·C), in units of y ∈ [0, 1). */
  mean: Float64Array;
  variance: Float64Array;
}

/** 1/12: the variance of u ~ U[0, 1). */
const UNIFORM_VARIANCE = 1 / 12;

/**
 * Maximum likelihood fit on `count` images of `dims` bytes each: μ = E[y] = (x̄ + ½)/256 and
 * σ² = Var[y] = (Var[x] + 1/12)/256², the moments of the dequantised data (never zero, even where every image is white).
 */
export function fitDiagonalGaussian(data: Uint8Array, count: number, dims: number): DiagonalGaussian {
  if (count < 1 || data.length < count * dims) throw new Error(`fitDiagonalGaussian: need ${count}×${dims} bytes, got ${data.length}`);
  const sum = new Float64Array(dims);
  const sq = new Float64Array(dims);
  for (let i = 0; i < count; i++) {
    const base = i * dims;
    for (let d = 0; d < dims; d++) {
      const x = data[base + d];
      sum[d] += x;
      sq[d] += x * x;
    }
  }
  const mean = new Float64Array(dims);
  const variance = new Float64Array(dims);
  for (let d = 0; d < dims; d++) {
    const m = sum[d] / count;
    mean[d] = (m + 0.5) / 256;
    variance[d] = (Math.max(0, sq[d] / count - m * m) + UNIFORM_VARIANCE) / (256 * 256);
  }
  return { mean, variance };
}

/**
 * Bits/dim of each image under the Gaussian, in expectation over the dequantisation noise u:
 * E_u[−log N(y; μ, σ²)] = ½ log 2πσ² + (((x + ½)/256 − μ)² + 1/(12·256²)) / 2σ² per dimension, then
 * bits/dim = (Σ_d that + D·log 256) / (D·ln 2), the same units as the flow's (lib/model/flow.ts).
 */
export function diagonalGaussianBitsPerDim(g: DiagonalGaussian, data: Uint8Array, count: number): Float64Array {
  const dims = g.mean.length;
  const halfLog = Float64Array.from(g.variance, (v) => 0.5 * Math.log(2 * Math.PI * v));
  const out = new Float64Array(count);
  const noise = UNIFORM_VARIANCE / (256 * 256);
  for (let i = 0; i < count; i++) {
    let nats = 0;
    const base = i * dims;
    for (let d = 0; d < dims; d++) {
      const diff = (data[base + d] + 0.5) / 256 - g.mean[d];
      nats += halfLog[d] + (diff * diff + noise) / (2 * g.variance[d]);
    }
    out[i] = (nats + dims * Math.log(256)) / (dims * Math.LN2);
  }
  return out;
}
