import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { mulberry32 } from "../../lib/data/rng";
import type { Shard } from "../../lib/data/shard";
import { selectBackend } from "../../lib/tensor/backend";
import { evaluatePca, fitPca, jacobiEigen, pcaProjector, type PcaModel } from "./pca";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const H = 16,
  W = 16,
  C = 3,
  D = H * W * C;
const SCALES = [0.2, 0.1, 0.05]; // distinct, so the three components come out in a known order

/** Fixed ±1 patterns, the same for every split (seed 99). */
const patterns = (() => {
  const rand = mulberry32(99);
  return SCALES.map(() => Float64Array.from({ length: D }, () => rand() * 2 - 1));
})();

/** Images = smooth mean + Σ aᵢ·patternᵢ with aᵢ uniform in ±scaleᵢ, stored as uint8 like a real shard. */
function syntheticShard(count: number, seed: number): Shard {
  const rand = mulberry32(seed);
  const data = new Uint8Array(count * D);
  for (let n = 0; n < count; n++) {
    const a = SCALES.map((s) => (rand() * 2 - 1) * s);
    for (let d = 0; d < D; d++) {
      let v = 0.3 + (0.4 * d) / D;
      for (let i = 0; i < a.length; i++) v += a[i] * patterns[i][d];
      data[n * D + d] = Math.round(v * 255);
    }
  }
  return { count, height: H, width: W, channels: C, data };
}

/** max |C·Cᵀ − I| over the model's components. */
function orthonormalityError(model: PcaModel): number {
  let worst = 0;
  for (let i = 0; i < model.k; i++) {
    for (let j = 0; j < model.k; j++) {
      let s = 0;
      for (let d = 0; d < model.dim; d++) s += model.components[i * model.dim + d] * model.components[j * model.dim + d];
      worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return worst;
}

const train = syntheticShard(300, 1);
const val = syntheticShard(100, 2);

describe("PCA on data with three known directions", () => {
  const model = () => fitPca(train, 8, { seed: 7 });

  it("reconstructs held-out images almost exactly with k = 3 but not with k = 1", () => {
    const m = model();
    const k3 = evaluatePca(m, val, 3, 64);
    const k1 = evaluatePca(m, val, 1, 64);
    expect(k3.psnr).toBeGreaterThan(50);
    expect(k3.ssim).toBeGreaterThan(0.999);
    expect(k1.psnr).toBeLessThan(35);
    expect(k1.ssim).toBeLessThan(k3.ssim);
  });

  it("has reconstruction error non-increasing in k, from the mean image (k = 0) up", () => {
    const m = model();
    const errors = [0, 1, 2, 3, 4, 8].map((k) => evaluatePca(m, val, k, 40).mse);
    for (let i = 1; i < errors.length; i++) expect(errors[i]).toBeLessThanOrEqual(errors[i - 1] * (1 + 1e-6));
    expect(errors[0]).toBeGreaterThan(100 * errors[3]);
  });

  it("returns orthonormal components with decreasing explained variance matching the generator", () => {
    const m = model();
    expect(m.components.length).toBe(8 * D);
    expect(orthonormalityError(m)).toBeLessThan(1e-3);
    for (let i = 1; i < m.k; i++) expect(m.explainedVariance[i]).toBeLessThanOrEqual(m.explainedVariance[i - 1]);
    // Var(a·p) along p/|p| is scale²/3·|p|² for a uniform in ±scale (sampling error of 300 draws allowed for).
    SCALES.forEach((s, i) => {
      const norm2 = patterns[i].reduce((acc, v) => acc + v * v, 0);
      expect(m.explainedVariance[i] / ((s * s * norm2) / 3)).toBeGreaterThan(0.8);
      expect(m.explainedVariance[i] / ((s * s * norm2) / 3)).toBeLessThan(1.2);
    });
    expect(m.explainedVariance[3]).toBeLessThan(1e-3 * m.explainedVariance[2]);
    expect(m.explainedVariance.slice(0, 3).reduce((a, b) => a + b) / m.totalVariance).toBeGreaterThan(0.999);
  });

  it("is deterministic for a seed", () => {
    const a = fitPca(train, 4, { seed: 3, sampleLimit: 200 });
    const b = fitPca(train, 4, { seed: 3, sampleLimit: 200 });
    expect(Buffer.from(a.components.buffer)).toEqual(Buffer.from(b.components.buffer));
    expect(a.mean).toEqual(b.mean);
    expect(a.explainedVariance).toEqual(b.explainedVariance);
    // A different subsample still finds the same leading direction (signs are pinned).
    const c = fitPca(train, 4, { seed: 4, sampleLimit: 200 });
    let cos = 0;
    for (let d = 0; d < D; d++) cos += a.components[d] * c.components[d];
    expect(cos).toBeGreaterThan(0.99);
  });

  it("completes an orthonormal basis when asked for more components than the data's rank", () => {
    const few = syntheticShard(12, 5); // rank ≤ 11 after centring, block of 38 rows
    const m = fitPca(few, 30, { seed: 1, iterations: 5 });
    expect(orthonormalityError(m)).toBeLessThan(1e-3);
    expect(m.explainedVariance[29]).toBeLessThan(1e-6);
    expect(evaluatePca(m, few, 11).psnr).toBeGreaterThan(45);
  });

  it("rejects bad arguments and mismatched images", () => {
    const m = model();
    expect(() => fitPca(train, D + 1)).toThrow(RangeError);
    expect(() => fitPca(train, 0)).toThrow(RangeError);
    expect(() => fitPca(train, 2, { sampleLimit: 0.5 })).toThrow(/sampleLimit/);
    expect(() => fitPca(train, 2, { iterations: 0 })).toThrow(/iterations/);
    expect(() => evaluatePca(m, val, 9)).toThrow(/k must be an integer in 0..8/);
    const other: Shard = { count: 1, height: 4, width: 4, channels: 3, data: new Uint8Array(48) };
    expect(() => evaluatePca(m, other, 2)).toThrow(/fitted on 768/);
  });

  it("leaks no tensors", () => {
    const before = tf.memory().numTensors;
    const m = fitPca(train, 6, { seed: 2, iterations: 3 });
    evaluatePca(m, val, 6, 32);
    evaluatePca(m, val, 0, 32);
    fitPca(syntheticShard(6, 3), 10, { iterations: 2 }); // the Gram–Schmidt fallback path too
    const p = pcaProjector(m, 2);
    const x = tf.zeros([2, H, W, C]) as tf.Tensor4D;
    p.reconstruct(x).dispose();
    x.dispose();
    p.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("jacobiEigen", () => {
  it("diagonalises a small symmetric matrix, eigenvalues decreasing", () => {
    const { values, vectors } = jacobiEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 0.5]), 3);
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(values[2]).toBeCloseTo(0.5, 12);
    // First eigenvector ∝ (1, 1, 0).
    expect(Math.abs(vectors[0 * 3 + 0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(Math.abs(vectors[1 * 3 + 0])).toBeCloseTo(Math.SQRT1_2, 12);
    expect(vectors[2 * 3 + 0]).toBeCloseTo(0, 12);
  });
});
