import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { batchTensor } from "../../lib/data/batches";
import { mulberry32 } from "../../lib/data/rng";
import type { Shard } from "../../lib/data/shard";
import { selectBackend } from "../../lib/tensor/backend";
import { fitPca } from "../vq/pca";
import { fitIca, icaSources, moments, whiten } from "./ica";
import { codeProjector, evaluateCode, icaCode, pcaCode } from "./linear-code";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const H = 8,
  W = 8,
  C = 3,
  D = H * W * C;
const SOURCES = 4;

/** Unit-variance independent sources: two uniform (sub-Gaussian), two Laplace (super-Gaussian). */
function drawSources(count: number, rand: () => number): Float64Array {
  const s = new Float64Array(count * SOURCES);
  for (let n = 0; n < count; n++) {
    s[n * SOURCES + 0] = (rand() * 2 - 1) * Math.sqrt(3);
    s[n * SOURCES + 1] = (rand() * 2 - 1) * Math.sqrt(3);
    for (const j of [2, 3]) {
      const u = rand() - 0.5;
      s[n * SOURCES + j] = (-Math.sign(u) * Math.log(1 - 2 * Math.abs(u))) / Math.SQRT2; // Laplace, b = 1/√2
    }
  }
  return s;
}

/** A fixed random mixing [SOURCES, D] (seed 5); pixels = 0.5 + Σⱼ sⱼ·mixⱼ, stored as uint8 like a real shard. */
const mixing = (() => {
  const rand = mulberry32(5);
  return Float64Array.from({ length: SOURCES * D }, () => (rand() * 2 - 1) * 0.025);
})();

function mixedShard(count: number, seed: number): { shard: Shard; sources: Float64Array } {
  const sources = drawSources(count, mulberry32(seed));
  const data = new Uint8Array(count * D);
  for (let n = 0; n < count; n++)
    for (let d = 0; d < D; d++) {
      let v = 0.5;
      for (let j = 0; j < SOURCES; j++) v += sources[n * SOURCES + j] * mixing[j * D + d];
      data[n * D + d] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  return { shard: { count, height: H, width: W, channels: C, data }, sources };
}

/** |corr| between column a of x [n, ka] and column b of y [n, kb]. */
function absCorr(x: ArrayLike<number>, ka: number, a: number, y: ArrayLike<number>, kb: number, b: number, n: number): number {
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i * ka + a];
    my += y[i * kb + b];
  }
  mx /= n;
  my /= n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i * ka + a] - mx,
      dy = y[i * kb + b] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  return Math.abs(sxy) / Math.sqrt(sxx * syy);
}

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) => Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

const train = mixedShard(3000, 1);
const val = mixedShard(500, 2);
const allImages = (shard: Shard) =>
  batchTensor(
    shard,
    Int32Array.from({ length: shard.count }, (_, i) => i),
  );

describe("FastICA on a mixture of independent non-Gaussian sources", () => {
  const fit = () => {
    const pca = fitPca(train.shard, SOURCES, { seed: 3 });
    return { pca, ica: fitIca(train.shard, pca, { seed: 4 }) };
  };

  it("recovers every source up to permutation, sign and scale on held-out images", () => {
    const { ica } = fit();
    expect(ica.converged).toBe(true);
    const images = allImages(val.shard);
    const s = icaSources(ica, images);
    const est = s.dataSync();
    tf.dispose([images, s]);
    // The best one-to-one matching of estimated to true sources (4! candidates).
    const corr = Array.from({ length: SOURCES }, (_, a) =>
      Array.from({ length: SOURCES }, (_, b) => absCorr(est, SOURCES, a, val.sources, SOURCES, b, val.shard.count)),
    );
    const best = permutations(SOURCES)
      .map((p) => p.map((b, a) => corr[a][b]))
      .sort((x, y) => Math.min(...y) - Math.min(...x))[0];
    for (const c of best) expect(c).toBeGreaterThan(0.98);
    // ICA's coefficients are the sources, so their kurtoses are those of uniform (−1.2) and Laplace (+3) variables;
    // PCA's are mixtures, pulled towards Gaussian (0).
    const icaKurt = evaluateCode(icaCode(ica), val.shard, []).kurtosis;
    expect(icaKurt.filter((q) => q < -0.8)).toHaveLength(2);
    expect(icaKurt.filter((q) => q > 1)).toHaveLength(2); // Laplace: 3, but the sample kurtosis of 500 draws is noisy
  });

  it("reconstructs from all k sources exactly as PCA does (same subspace)", () => {
    const { pca, ica } = fit();
    const images = allImages(val.shard);
    const pcaProj = codeProjector(pcaCode(pca));
    const icaProj = codeProjector(icaCode(ica));
    const a = pcaProj.reconstruct(images);
    const b = icaProj.reconstruct(images);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(a, images))).dataSync()[0]);
    tf.dispose([images, a, b]);
    pcaProj.dispose();
    icaProj.dispose();
    expect(diff).toBeLessThan(1e-4);
    expect(err).toBeLessThan(0.02); // and both are good: the data is 4-dimensional up to uint8 rounding
    // The components carry all of PCA's variance between them.
    const total = pca.explainedVariance.reduce((x, y) => x + y, 0);
    expect(ica.explainedVariance.reduce((x, y) => x + y, 0)).toBeCloseTo(total, 4);
  });

  it("whitens the fitted images to identity covariance", () => {
    const { ica } = fit();
    const images = allImages(train.shard);
    const z = whiten(ica, images);
    const values = z.dataSync();
    tf.dispose([images, z]);
    const n = train.shard.count;
    const stats = moments(values, n, SOURCES);
    for (let a = 0; a < SOURCES; a++) {
      expect(Math.abs(stats.mean[a])).toBeLessThan(1e-3);
      for (let b = 0; b < SOURCES; b++) {
        let s = 0;
        for (let i = 0; i < n; i++) s += (values[i * SOURCES + a] - stats.mean[a]) * (values[i * SOURCES + b] - stats.mean[b]);
        expect(Math.abs(s / n - (a === b ? 1 : 0))).toBeLessThan(1e-3);
      }
    }
    // And W is orthogonal, so the sources are white too.
    const w = ica.unmixing;
    for (let a = 0; a < SOURCES; a++)
      for (let b = 0; b < SOURCES; b++) {
        let s = 0;
        for (let j = 0; j < SOURCES; j++) s += w[a * SOURCES + j] * w[b * SOURCES + j];
        expect(Math.abs(s - (a === b ? 1 : 0))).toBeLessThan(1e-9);
      }
  });

  it("top-m reconstructions keep m terms, get better with m, and match the full one at m = k", () => {
    const { pca, ica } = fit();
    for (const code of [pcaCode(pca), icaCode(ica)]) {
      const r = evaluateCode(code, val.shard, [1, 2, SOURCES]);
      expect(r.topM[0].mse).toBeGreaterThan(r.topM[1].mse);
      expect(r.topM[1].mse).toBeGreaterThan(r.topM[2].mse);
      expect(r.topM[2].mse).toBeCloseTo(r.mse, 10);
      // m = 1 keeps exactly one non-zero term: the reconstruction minus the mean is parallel to one atom.
      const images = batchTensor(val.shard, [0, 1, 2]);
      const proj = codeProjector(code);
      const rec = proj.reconstruct(images, 1);
      const full = proj.reconstruct(images);
      expect(tf.tidy(() => tf.mean(tf.squaredDifference(rec, full)).dataSync()[0])).toBeGreaterThan(0);
      tf.dispose([images, rec, full]);
      proj.dispose();
    }
  });

  it("leaks no tensors in the fit, the sources and the reconstructions", () => {
    const images = batchTensor(val.shard, [0, 1, 2, 3]);
    const before = tf.memory().numTensors;
    const { pca, ica } = fit();
    const s = icaSources(ica, images);
    const z = whiten(ica, images);
    s.dispose();
    z.dispose();
    for (const code of [pcaCode(pca), icaCode(ica)]) {
      const proj = codeProjector(code);
      const c = proj.coefficients(images);
      const a = proj.reconstruct(images);
      const b = proj.reconstruct(images, 2);
      tf.dispose([c, a, b]);
      proj.dispose();
      evaluateCode(code, val.shard, [1, 2], 128);
    }
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it("rejects bad options and mismatched images", () => {
    const pca = fitPca(train.shard, SOURCES, { seed: 3 });
    expect(() => fitIca(train.shard, pca, { maxIter: 0 })).toThrow(/maxIter/);
    expect(() => fitIca(train.shard, pca, { tol: 0 })).toThrow(/tol/);
    const other: Shard = { count: 2, height: 4, width: 4, channels: 3, data: new Uint8Array(96) };
    expect(() => fitIca(other, pca)).toThrow(/dim|values/);
    const proj = codeProjector(pcaCode(pca));
    const images = batchTensor(val.shard, [0]);
    expect(() => proj.reconstruct(images, SOURCES + 1)).toThrow(/m must be/);
    images.dispose();
    proj.dispose();
  });
});
