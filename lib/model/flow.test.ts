// Real-NVP at tiny sizes: f⁻¹(f(y)) = y; the log-det the couplings add up equals log|det J| of a numerical Jacobian
// (central differences, LU in float64) on 4×4×1 and 2×2×2 inputs; bits/dim in the right units (an identity flow
// against the closed form); gradients train it; a float32 save/load keeps its scores; nothing leaks. Weights are
// scrambled first: at initialisation every coupling is the identity and would hide a wrong mask or log-det.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { RealNVP } from "./flow";
import { diagonalGaussianBitsPerDim, fitDiagonalGaussian } from "./flow-baseline";
import { DEFAULT_FLOW_CONFIG, validateFlowConfig, type FlowConfig } from "./flow-config";

/** 4×4×1 with both scales' machinery: checkerboards, a squeeze, channel couplings, a factored-out half. */
const TINY: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 4, channels: 1, scales: 2, hidden: [4, 4], resBlocks: 1 };
/** 2×2×2, one scale (checkerboards only). */
const FLAT: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 2, channels: 2, scales: 1, hidden: [3], resBlocks: 0 };
/** RGB with three scales: 8×8×3 → 4×4×6 → 2×2×12. */
const RGB: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 8, channels: 3, scales: 3, hidden: [4, 4, 4], resBlocks: 1 };

let dir: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-flow-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A flow whose every parameter is random, so each coupling's s and t are far from zero. */
function scrambled(config: FlowConfig, seed = 1, std = 0.15): RealNVP {
  const flow = new RealNVP(config, seed);
  let k = 0;
  // The bounds of s = scale · tanh(·) keep their initial 1: the log-scales s are then O(0.1–1) per dimension, enough
  // to matter, not so much that ten couplings compound into float32 overflow.
  for (const [name, v] of flow.params.all())
    if (!name.endsWith(".scale")) tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, std, "float32", seed * 1000 + k++)));
  return flow;
}

const inputs = (c: FlowConfig, n: number, seed = 7) =>
  tf.randomUniform([n, c.imageSize, c.imageSize, c.channels], 0.15, 0.85, "float32", seed) as tf.Tensor4D;

/** log|det A| of a row-major n×n matrix by LU with partial pivoting, in float64. */
function logAbsDet(a: Float64Array, n: number): number {
  const m = Float64Array.from(a);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]) > Math.abs(m[p * n + k])) p = i;
    if (m[p * n + k] === 0) return -Infinity;
    if (p !== k) for (let j = 0; j < n; j++) [m[k * n + j], m[p * n + j]] = [m[p * n + j], m[k * n + j]];
    const pivot = m[k * n + k];
    sum += Math.log(Math.abs(pivot));
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k] / pivot;
      for (let j = k; j < n; j++) m[i * n + j] -= f * m[k * n + j];
    }
  }
  return sum;
}

/** log|det ∂z/∂y| at y (one image) from central differences: one batch of 2D perturbed copies. */
function numericalLogDet(flow: RealNVP, y: tf.Tensor4D, eps = 1e-3): number {
  const d = flow.dims;
  const base = y.dataSync();
  const rows = new Float32Array(2 * d * d);
  for (let i = 0; i < d; i++) {
    rows.set(base, 2 * i * d);
    rows.set(base, (2 * i + 1) * d);
    rows[2 * i * d + i] += eps;
    rows[(2 * i + 1) * d + i] -= eps;
  }
  const shape = y.shape.slice(1) as [number, number, number];
  const z = tf.tidy(() => flow.forward(tf.tensor4d(rows, [2 * d, ...shape])).z.dataSync());
  // J[r][i] = ∂z_r/∂y_i
  const jac = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let r = 0; r < d; r++) jac[r * d + i] = (z[2 * i * d + r] - z[(2 * i + 1) * d + r]) / (2 * eps);
  return logAbsDet(jac, d);
}

describe("Real-NVP", () => {
  it("refuses configs it cannot build", () => {
    expect(() => validateFlowConfig({ ...TINY, hidden: [4] })).toThrow(/hidden needs 2/);
    expect(() => validateFlowConfig({ ...TINY, scales: 3 })).toThrow(/side ≥ 2/);
    expect(() => validateFlowConfig({ ...TINY, alpha: 0.5 })).toThrow(/alpha/);
  });

  it.each([
    ["4×4×1, two scales", TINY],
    ["2×2×2, one scale", FLAT],
    ["8×8×3, three scales", RGB],
  ])("inverts exactly: f⁻¹(f(y)) = y (%s)", (_, config) => {
    const flow = scrambled(config);
    const y = inputs(config, 3);
    const { z, logDet } = flow.forward(y);
    expect(z.shape).toEqual([3, flow.dims]);
    expect(logDet.shape).toEqual([3]);
    const back = flow.inverse(z);
    const err = tf.tidy(() => tf.max(tf.abs(tf.sub(back, y))).dataSync()[0]);
    expect(err).toBeLessThan(1e-4);
    // The map is not the identity (else the test would prove nothing).
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(z, tf.reshape(y, [3, -1])))).dataSync()[0])).toBeGreaterThan(0.5);
    tf.dispose([y, z, logDet, back]);
    flow.dispose();
  });

  it.each([
    ["4×4×1, two scales", TINY],
    ["2×2×2, one scale", FLAT],
  ])("its log-det equals log|det J| of a numerical Jacobian (%s)", (_, config) => {
    const flow = scrambled(config, 3);
    for (const seed of [11, 12]) {
      const y = inputs(config, 1, seed);
      const { z, logDet } = flow.forward(y);
      const analytic = logDet.dataSync()[0];
      const numeric = numericalLogDet(flow, y);
      expect(Math.abs(analytic - numeric)).toBeLessThan(2e-2);
      // The couplings contribute, not just the logit transform's closed form Σ log((1 − 2α)/(p(1 − p))).
      const a = config.alpha;
      const logit = Array.from(y.dataSync()).reduce((s, v) => {
        const p = a + (1 - 2 * a) * v;
        return s + Math.log((1 - 2 * a) / (p * (1 - p)));
      }, 0);
      expect(Math.abs(analytic - logit)).toBeGreaterThan(0.5);
      tf.dispose([y, z, logDet]);
    }
    flow.dispose();
  });

  it("reports bits/dim in the 8-bit image's units: an identity flow against the closed form", () => {
    // Fresh weights: every coupling is the identity (zero-initialised output convs), so log p(y) is the logit
    // transform's log-det plus a standard normal on logit(α + (1 − 2α)y), and bits/dim = (D·log 256 − log p)/(D·ln 2).
    const flow = new RealNVP(TINY, 1);
    const values = Array.from({ length: 16 }, (_, i) => (i * 37) % 256);
    const pixels = tf.tensor4d(values, [1, 4, 4, 1]);
    const u = tf.tidy(() => tf.randomUniform([1, 4, 4, 1], 0, 1, "float32", 5).dataSync());
    const a = TINY.alpha;
    let logP = 0;
    values.forEach((x, i) => {
      const p = a + (1 - 2 * a) * ((x + u[i]) / 256);
      const h = Math.log(p / (1 - p));
      logP += -0.5 * h * h - 0.5 * Math.log(2 * Math.PI) + Math.log((1 - 2 * a) / (p * (1 - p)));
    });
    const expected = (16 * Math.log(256) - logP) / (16 * Math.LN2);
    const bpd = flow.bitsPerDim(pixels, 5);
    expect(bpd.dataSync()[0]).toBeCloseTo(expected, 3);
    tf.dispose([pixels, bpd]);
    flow.dispose();
  });

  it("trains: a few Adam steps on one image lower its bits/dim", () => {
    const flow = new RealNVP(TINY, 2);
    const pixels = tf.tensor4d(
      Array.from({ length: 32 }, (_, i) => (i % 3) * 100),
      [2, 4, 4, 1],
    );
    const opt = tf.train.adam(0.01);
    const vars = [...flow.params.trainable().values()];
    const loss = (step: number) => tf.mean(flow.bitsPerDim(pixels, step)) as tf.Scalar;
    const minimize = (step: number) => opt.minimize(() => loss(step), false, vars);
    const first = tf.tidy(() => loss(0).dataSync()[0]);
    for (let s = 0; s < 30; s++) tf.tidy(() => void minimize(s));
    const last = tf.tidy(() => loss(0).dataSync()[0]);
    expect(last).toBeLessThan(first - 0.3);
    opt.dispose();
    pixels.dispose();
    flow.dispose();
  });

  it("keeps its scores through a checkpoint save and load", async () => {
    const flow = scrambled(RGB, 4, 0.1);
    const pixels = tf.tidy(() => tf.floor(tf.randomUniform([2, 8, 8, 3], 0, 256, "float32", 9))) as tf.Tensor4D;
    const before = flow.bitsPerDim(pixels, 3).dataSync();
    await flow.save(path.join(dir, "flow"), { metrics: { typicalThreshold: 7 } });
    const { model, manifest } = RealNVP.load(path.join(dir, "flow"));
    expect(manifest.kind).toBe("realnvp");
    expect(manifest.metrics.typicalThreshold).toBe(7);
    const after = model.bitsPerDim(pixels, 3).dataSync();
    for (let i = 0; i < 2; i++) expect(after[i]).toBeCloseTo(before[i], 5);
    tf.dispose(pixels);
    flow.dispose();
    model.dispose();
  });

  it("leaks no tensors from forward, inverse, logProb, bitsPerDim or sample", () => {
    const flow = scrambled(RGB, 5);
    const y = inputs(RGB, 2);
    const pixels = tf.tidy(() => tf.floor(tf.mul(y, 256))) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const f = flow.forward(y);
      const back = flow.inverse(f.z);
      const lp = flow.logProb(y);
      const bpd = flow.bitsPerDim(pixels, i);
      const s = flow.sample(2, i, 0.7);
      expect(s.shape).toEqual([2, 8, 8, 3]);
      tf.dispose([f.z, f.logDet, back, lp, bpd, s]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([y, pixels]);
    flow.dispose();
  });
});

describe("the diagonal Gaussian baseline", () => {
  it("scores one constant image at the closed form of a Gaussian fitted to uniform noise", () => {
    // Every y is x/256 + U[0, 1/256): σ² = 1/(12·256²), and E[−log N] = ½ log 2πσ² + ½, so bits/dim is
    // (½ log(π/6) + ½)/ln 2 ≈ 0.2546 (a density exactly uniform on each bin would score 0).
    const data = Uint8Array.from({ length: 12 }, (_, i) => i * 20);
    const g = fitDiagonalGaussian(data, 1, 12);
    expect(diagonalGaussianBitsPerDim(g, data, 1)[0]).toBeCloseTo((0.5 * Math.log(Math.PI / 6) + 0.5) / Math.LN2, 6);
  });

  it("scores the images it was fitted on better than the same images with pixels moved", () => {
    const n = 50;
    const dims = 16;
    const data = Uint8Array.from({ length: n * dims }, (_, k) => (k % dims < 8 ? 250 : 10) + ((k * 7) % 5));
    const g = fitDiagonalGaussian(data, n, dims);
    const moved = Uint8Array.from(data, (_, k) => data[Math.floor(k / dims) * dims + ((k + 8) % dims)]);
    const real = diagonalGaussianBitsPerDim(g, data, n);
    const off = diagonalGaussianBitsPerDim(g, moved, n);
    for (let i = 0; i < n; i++) expect(off[i]).toBeGreaterThan(real[i] + 1);
  });
});
