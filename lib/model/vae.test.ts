// The VAE's objective against independent estimates (the closed-form KL and the closed-form expectation over the
// dequantisation noise, each against a Monte-Carlo estimate), the gradient through the reparameterisation, the
// discretised logistic against a plain float64 evaluation (masses, values, gradients), the likelihoods' floors,
// today's loss recomputed by hand, and the model end to end at a tiny size: shapes, training, float16 round trip,
// variations and blends, no leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinyVAEConfig } from "../../test/fixtures/tiny-vae";
import { mulberry32 } from "../data/rng";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { saveCheckpoint } from "./checkpoint";
import { discretizedLogisticLogProb } from "./discretized-logistic";
import { VAE } from "./vae";
import { BIN_WIDTH, DEFAULT_VAE_CONFIG, LOGISTIC_LOG_STD_OFFSET, vaeConfigFromManifest, type VAEConfig } from "./vae-config";
import { binCentres, bitsPerDim, dequantizedGaussianNll, gaussianKl, reparameterize, slerp } from "./vae-elbo";

let dir: string;
const images = (n = 3, seed = 5) =>
  tf.tidy(() => tf.div(tf.round(tf.randomUniform([n, 32, 32, 3], 0, 255, "float32", seed)), 255)) as tf.Tensor4D;

/** Standard normal draws (Box–Muller on mulberry32): independent of tfjs, so the estimates below check its ops. */
function normals(n: number, seed: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const t = 2 * Math.PI * rand();
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * log P(x) of the discretised logistic in float64, the plain way: log(F(x⁺) − F(x⁻)), F(−∞) = 0 below level 0 and
 * F(+∞) = 1 above 255 (Salimans et al. 2017, eq. 2): an oracle independent of the stable algebra under test. Above
 * μ it takes the same difference as S(x⁻) − S(x⁺), S = 1 − F, since 1 − F rounds to 0 in float64 by ~37 nats.
 */
function logisticLogProb64(x: number, mean: number, logScale: number): number {
  const s = Math.exp(logScale);
  const cdf = (edge: number) => 1 / (1 + Math.exp(-(edge - mean) / s));
  const sf = (edge: number) => 1 / (1 + Math.exp((edge - mean) / s));
  if ((x + 0.5) * BIN_WIDTH > mean) return Math.log((x === 0 ? 1 : sf(x * BIN_WIDTH)) - (x === 255 ? 0 : sf((x + 1) * BIN_WIDTH)));
  return Math.log((x === 255 ? 1 : cdf((x + 1) * BIN_WIDTH)) - (x === 0 ? 0 : cdf(x * BIN_WIDTH)));
}

/** softplus⁻¹(y) = y + ln(1 − e^−y). */
const softplusInv = (y: number) => y + Math.log(-Math.expm1(-y));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vae-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the ELBO's terms", () => {
  it("the closed-form KL(N(μ, σ²) ‖ N(0, I)) equals a Monte-Carlo estimate E_q[log q(z) − log p(z)]", () => {
    // log σ² from −2.5 to 1.5: σ and σ² (and a missing ½) give clearly different answers here.
    const rows = [
      { mu: [0.3, -1.2, 2.0, 0.0], logVar: [-2.5, 0.4, -1.0, 1.5] },
      { mu: [0, 0, 0, 0], logVar: [0, 0, 0, 0] },
      { mu: [-0.7, 0.1, 1.1, -2.2], logVar: [1.2, -0.3, -2.0, 0.8] },
    ];
    const closed = tf.tidy(() =>
      gaussianKl(tf.tensor2d(rows.map((r) => r.mu)), tf.tensor2d(rows.map((r) => r.logVar))).arraySync(),
    ) as number[];
    const n = 200_000;
    rows.forEach((r, k) => {
      const eps = normals(n * 4, 11 + k);
      let sum = 0;
      let sumSq = 0;
      for (let s = 0; s < n; s++) {
        let logRatio = 0;
        for (let j = 0; j < 4; j++) {
          const e = eps[s * 4 + j];
          const z = r.mu[j] + Math.exp(0.5 * r.logVar[j]) * e;
          // log q(z) − log p(z), each a diagonal Gaussian density (the 2π terms cancel).
          logRatio += -0.5 * (r.logVar[j] + e * e) + 0.5 * z * z;
        }
        sum += logRatio;
        sumSq += logRatio * logRatio;
      }
      const mc = sum / n;
      const se = Math.sqrt((sumSq / n - mc * mc) / n);
      expect(Math.abs(closed[k] - mc)).toBeLessThan(4 * se + 1e-4);
    });
    expect(closed[1]).toBeCloseTo(0, 6);
  });

  it("the closed-form expectation over the dequantisation noise equals a Monte-Carlo estimate over y = (x + u)/256", () => {
    const bytes = [0, 17, 128, 255];
    const x = tf.tidy(() => tf.div(tf.tensor4d(bytes, [1, 2, 2, 1]), 255)) as tf.Tensor4D;
    // Means near the bin centres and variances near the noise's own δ²/12 (ln ≈ −13.6): there the noise term decides.
    const mean = bytes.map((b, i) => (b + 0.5) / 256 + [0.0005, -0.002, 0.01, 0][i]);
    const logVar = [-13, -12, -8, -13.5];
    const closed = tf.tidy(
      () => dequantizedGaussianNll(x, tf.tensor4d(mean, [1, 2, 2, 1]), tf.tensor4d(logVar, [1, 2, 2, 1])).dataSync()[0],
    );
    const rand = mulberry32(3);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    for (let s = 0; s < n; s++) {
      let nll = 0;
      for (let i = 0; i < 4; i++) {
        const y = (bytes[i] + rand()) / 256;
        nll += 0.5 * (Math.log(2 * Math.PI) + logVar[i] + (y - mean[i]) ** 2 / Math.exp(logVar[i]));
      }
      sum += nll;
      sumSq += nll * nll;
    }
    const mc = sum / n + 4 * Math.log(256);
    const se = Math.sqrt((sumSq / n - (sum / n) ** 2) / n);
    // float32 sums of terms near ±6 carry ~1e-5 of rounding.
    expect(Math.abs(closed - mc)).toBeLessThan(4 * se + 1e-4);
    expect(bitsPerDim(4 * Math.LN2 * 8, 4)).toBeCloseTo(8, 10);
    // Bin centres: x/255 → (x + ½)/256.
    expect(Array.from(binCentres(x).dataSync())).toEqual(bytes.map((b) => Math.fround((b + 0.5) / 256)));
    x.dispose();
  });

  it("passes the gradient through z = μ + σ ⊙ ε to μ and to log σ²", () => {
    const mu = tf.tensor2d([[0.5, -1]]);
    const logVar = tf.tensor2d([[-1, 0.6]]);
    const eps = tf.tensor2d([[1.5, -0.8]]);
    const w = tf.tensor2d([[2, 3]]);
    const [dMu, dLogVar] = tf.grads((m: tf.Tensor, lv: tf.Tensor) =>
      tf.sum(tf.mul(reparameterize(m as tf.Tensor2D, lv as tf.Tensor2D, eps), w)),
    )([mu, logVar]);
    expect(Array.from(dMu.dataSync())).toEqual([2, 3]);
    // ∂z/∂log σ² = ½ σ ε.
    const expected = [0, 1].map((j) => [2, 3][j] * 0.5 * Math.exp(0.5 * [-1, 0.6][j]) * [1.5, -0.8][j]);
    Array.from(dLogVar.dataSync()).forEach((g, j) => expect(g).toBeCloseTo(expected[j], 5));
    tf.dispose([mu, logVar, eps, w, dMu, dLogVar]);
  });

  it("slerps: ends exact, the norm kept between equal-norm ends, linear when they are parallel", () => {
    const a = Float32Array.from([3, 0, 0]);
    const b = Float32Array.from([0, 3, 0]);
    const out = slerp(a, b, [0, 0.5, 1]);
    expect(Array.from(out.subarray(0, 3))).toEqual([3, 0, 0]);
    expect(out[6]).toBeCloseTo(0, 6);
    expect(out[7]).toBeCloseTo(3, 6);
    expect(Math.hypot(...out.subarray(3, 6))).toBeCloseTo(3, 5);
    expect(Array.from(slerp(a, Float32Array.from([6, 0, 0]), [0.5]))).toEqual([4.5, 0, 0]);
  });
});

describe("the likelihoods", () => {
  // (μ, ln s) from a sure decoder (s = δ/8, the floor) to a vague one, μ inside, at and beyond [0, 1].
  const cases: [number, number][] = [
    [0.5, Math.log(BIN_WIDTH / 8)],
    [(37 + 0.5) * BIN_WIDTH, Math.log(BIN_WIDTH / 8)],
    [0.02, Math.log(0.01)],
    [0.999, Math.log(0.05)],
    [-0.1, Math.log(0.3)],
    [1.3, Math.log(2)],
    // Nearly flat: δ/s = 4e-6, where 1 − e^(−δ/s) in float32 would be off by 0.7 % (the series branch).
    [0.5, Math.log(1000)],
  ];

  it("the discretised logistic's masses over the 256 levels sum to 1 and equal log(F(x⁺) − F(x⁻)) in float64", () => {
    const levels = tf.tidy(() => tf.div(tf.range(0, 256), 255)); // [256]
    for (const [mean, logScale] of cases) {
      const logP = tf.tidy(() => discretizedLogisticLogProb(levels, tf.scalar(mean), tf.scalar(logScale)).dataSync());
      let total = 0;
      logP.forEach((lp, x) => {
        total += Math.exp(lp);
        const ref = logisticLogProb64(x, mean, logScale);
        // float32 rounding of the logits (|a| up to ~2e3 at the floor) sets the tolerance, relative to |log P|.
        if (ref > -50) expect(Math.abs(lp - ref)).toBeLessThan(1e-4 + 2e-5 * Math.abs(ref));
      });
      expect(Math.abs(total - 1)).toBeLessThan(1e-4);
    }
    levels.dispose();
  });

  it("the discretised logistic's gradient in μ and ln s matches central differences of the float64 log P, edges included", () => {
    const points: [number, number, number][] = [
      [100, 0.41, Math.log(0.02)],
      [0, 0.05, Math.log(0.03)], // the bottom edge: log F(x⁺)
      [255, 0.95, Math.log(0.05)], // the top edge: log(1 − F(x⁻))
      [37, (37.5 + 0.3) * BIN_WIDTH, Math.log(BIN_WIDTH / 4)], // a sure decoder near the bin
      [200, 0.3, Math.log(0.8)], // δ/s < 0.01: the series branch of log(1 − e^−Δ)
    ];
    const x = tf.tensor1d(points.map(([v]) => v / 255));
    const mean = tf.tensor1d(points.map(([, m]) => m));
    const logScale = tf.tensor1d(points.map(([, , l]) => l));
    const [gMean, gLogScale] = tf.grads((m: tf.Tensor, l: tf.Tensor) => tf.sum(discretizedLogisticLogProb(x, m, l)))([mean, logScale]);
    const [dm, dl] = [gMean.dataSync(), gLogScale.dataSync()];
    points.forEach(([v, m, l], i) => {
      const h = 1e-6;
      const fdMean = (logisticLogProb64(v, m + h, l) - logisticLogProb64(v, m - h, l)) / (2 * h);
      const fdLogScale = (logisticLogProb64(v, m, l + h) - logisticLogProb64(v, m, l - h)) / (2 * h);
      expect(Math.abs(dm[i] - fdMean)).toBeLessThan(1e-3 * Math.abs(fdMean) + 1e-3);
      expect(Math.abs(dl[i] - fdLogScale)).toBeLessThan(1e-3 * Math.abs(fdLogScale) + 1e-3);
    });
    // Far in the tail (μ at 1, the floor's scale, level 0) the value and gradient stay finite.
    const tail = tf.tidy(() => {
      const [g] = tf.grads((m: tf.Tensor) => tf.sum(discretizedLogisticLogProb(tf.scalar(0), m, tf.scalar(Math.log(BIN_WIDTH / 8)))))([
        tf.scalar(1),
      ]);
      return [discretizedLogisticLogProb(tf.scalar(0), tf.scalar(1), tf.scalar(Math.log(BIN_WIDTH / 8))).dataSync()[0], g.dataSync()[0]];
    });
    tail.forEach((v) => expect(Number.isFinite(v)).toBe(true));
    tf.dispose([x, mean, logScale, gMean, gLogScale]);
  });

  it("each likelihood's spread never goes below its floor, however hard the decoder pushes it down", () => {
    const floors: [VAEConfig["likelihood"], number][] = [
      ["gaussian-learned", DEFAULT_VAE_CONFIG.minLogVar],
      ["gaussian-floored", 2 * Math.log(DEFAULT_VAE_CONFIG.minPixelStd)],
      ["gaussian-fixed", 2 * Math.log(DEFAULT_VAE_CONFIG.minPixelStd)],
      // The logistic's ln s ≥ minLogScale, as a log-variance: 2(ln s + ln(π/√3)).
      ["logistic", 2 * (DEFAULT_VAE_CONFIG.minLogScale + LOGISTIC_LOG_STD_OFFSET)],
    ];
    for (const [likelihood, floor] of floors) {
      const model = new VAE(tinyVAEConfig({ likelihood }), 3);
      const z = tf.randomNormal([4, 8], 0, 3, "float32", 1) as tf.Tensor2D; // [4, d]
      const bias = model.params.get("vae.dec.out.b");
      for (const push of [0, -1e4, 1e2]) {
        // The bias of the spread half (the last C of the 2C outputs).
        bias.assign(tf.concat([tf.zeros([3]), tf.fill([3], push)]));
        const [min, max] = tf.tidy(() => {
          const lv = model.decodeDistribution(z).logVar;
          return [tf.min(lv).dataSync()[0], tf.max(lv).dataSync()[0]];
        });
        expect(min).toBeGreaterThanOrEqual(floor - 1e-5);
        if (push < 0) expect(min).toBeCloseTo(floor, 4);
        // Fixed: the floor is the value; the others follow the push up.
        if (likelihood === "gaussian-fixed") expect(max).toBeCloseTo(floor, 5);
        else if (push > 0) expect(max).toBeGreaterThan(floor + 50);
      }
      z.dispose();
      model.dispose();
    }
  });

  it("a logistic model's reconstruction term is −Σ log P(x) at the scale it decodes (ln s = its floor when pushed there)", () => {
    const minLogScale = Math.log(0.05);
    const model = new VAE(tinyVAEConfig({ likelihood: "logistic", minLogScale }), 5);
    // The spread half's bias far down: softplus(…) = 0, so ln s is exactly the floor.
    model.params.get("vae.dec.out.b").assign(tf.concat([tf.zeros([3]), tf.fill([3], -1e4)]));
    const x = images(1, 6);
    const z = tf.randomNormal([1, 8], 0, 1, "float32", 2) as tf.Tensor2D; // [1, d]
    const [nll, mean, bytes] = tf.tidy(() => {
      const p = model.decodeDistribution(z);
      return [model.pixelNll(x, p).dataSync()[0], p.mean.dataSync(), tf.round(tf.mul(x, 255)).dataSync()];
    });
    let expected = 0;
    mean.forEach((m, i) => (expected -= logisticLogProb64(bytes[i], m, minLogScale)));
    expect(Math.abs(nll - expected) / expected).toBeLessThan(1e-5);
    tf.dispose([x, z]);
    model.dispose();
  });

  it("today's likelihood (a manifest without the field) keeps its loss: the negative ELBO recomputed by hand", () => {
    // The shipped checkpoint's config as written before the field existed, at the tiny size.
    const old = vaeConfigFromManifest({
      kind: "vae",
      imageSize: 32,
      channels: 3,
      widths: [8, 8, 16],
      resBlocks: 1,
      padding: "edge",
      latentDim: 8,
      minLogVar: -13.575261538747124,
      logVarGain: 1,
      initPixelStd: 1,
    });
    expect(old.likelihood).toBe("gaussian-learned");
    const model = new VAE(old, 7);
    // Copy the mean half of the output conv into the spread half, so raw = 2·mean − 1 is known from the mean alone.
    for (const name of ["vae.dec.out.w", "vae.dec.out.b"]) {
      const p = model.params.get(name);
      const [m] = tf.split(p, 2, -1);
      p.assign(tf.concat([m, m], -1));
      m.dispose();
    }
    const x = images(2, 4);
    const seed = 12;
    const t = model.terms(x, seed);
    const got = t.negElbo.dataSync();
    // By hand, in float64: z = μ + σ·ε with the same ε, the decoder's mean, log σ² = minLogVar + softplus(raw + c).
    const { mu, logVar } = model.encode(x);
    const eps = tf.randomNormal(mu.shape, 0, 1, "float32", seed);
    const [muV, lvV, epsV] = [mu.dataSync(), logVar.dataSync(), eps.dataSync()];
    const z = tf.tensor2d(
      Array.from(muV, (m, j) => m + Math.exp(0.5 * lvV[j]) * epsV[j]),
      mu.shape,
    );
    const mean = tf.tidy(() => model.decodeDistribution(z).mean.dataSync());
    const bytes = tf.tidy(() => tf.round(tf.mul(x, 255)).dataSync());
    const c = softplusInv(0 - old.minLogVar); // σ = initPixelStd = 1 at raw = 0
    const d = 32 * 32 * 3;
    const latent = old.latentDim;
    for (let b = 0; b < 2; b++) {
      let nll = d * Math.log(256);
      for (let i = b * d; i < (b + 1) * d; i++) {
        const lv = old.minLogVar + softplus(2 * mean[i] - 1 + c);
        const centre = (bytes[i] + 0.5) / 256;
        nll += 0.5 * (Math.log(2 * Math.PI) + lv + ((centre - mean[i]) ** 2 + 1 / (12 * 256 * 256)) / Math.exp(lv));
      }
      let kl = 0;
      for (let j = b * latent; j < (b + 1) * latent; j++) kl += 0.5 * (muV[j] ** 2 + Math.exp(lvV[j]) - 1 - lvV[j]);
      expect(Math.abs(got[b] - (nll + kl)) / (nll + kl)).toBeLessThan(1e-5);
    }
    tf.dispose([x, t.negElbo, t.nll, t.kl, t.mu, mu, logVar, eps, z]);
    model.dispose();
  });

  it("the logistic and floored models train, keep their likelihood through a save and load, and score in the same units", async () => {
    for (const likelihood of ["logistic", "gaussian-floored", "gaussian-fixed"] as const) {
      const model = new VAE(tinyVAEConfig({ likelihood }), 8);
      const x = images(4);
      const loss = () => tf.tidy(() => tf.mean(model.terms(x, 1).negElbo).dataSync()[0]);
      const first = loss();
      // An untrained decoder is worse than uniform (8 bits/dim) but finite.
      expect(bitsPerDim(first, model.dims)).toBeGreaterThan(1);
      expect(Number.isFinite(first)).toBe(true);
      const optimizer = tf.train.adam(3e-3);
      const vars = [...model.params.trainable().values()];
      for (let i = 0; i < 15; i++)
        optimizer.minimize(() => tf.div(tf.mean(model.terms(x, i).negElbo), model.dims) as tf.Scalar, false, vars);
      expect(loss()).toBeLessThan(first);
      const ckpt = path.join(dir, `vae-${likelihood}`);
      await saveCheckpoint(ckpt, model.params.all(), { kind: "vae", config: model.config, dtype: "float32" });
      const { model: loaded } = VAE.load(ckpt);
      expect(loaded.config.likelihood).toBe(likelihood);
      const diff = tf.tidy(() => Math.abs(tf.mean(loaded.terms(x, 1).negElbo).dataSync()[0] - loss()));
      expect(diff).toBeLessThan(1e-3 * Math.abs(first));
      optimizer.dispose();
      tf.dispose(x);
      model.dispose();
      loaded.dispose();
    }
  });
});

describe("VAE", () => {
  it("encodes [B,32,32,3] to μ, log σ² [B,d] and decodes z [B,d] to images in [0,1]", () => {
    const model = new VAE(tinyVAEConfig(), 1);
    const x = images();
    const { mu, logVar } = model.encode(x);
    expect([mu.shape, logVar.shape]).toEqual([
      [3, 8],
      [3, 8],
    ]);
    const y = model.decode(mu);
    expect(y.shape).toEqual([3, 32, 32, 3]);
    const v = y.dataSync();
    expect(Math.min(...v)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    tf.dispose([x, mu, logVar, y]);
    model.dispose();
  });

  it("the reconstruction term's gradient reaches the log σ² half of the encoder head (through ε), and training lowers the negative ELBO", () => {
    const model = new VAE(tinyVAEConfig(), 2);
    const x = images(4);
    const head = model.params.get("vae.enc.head.w");
    // The nll alone (no KL) can reach the log σ² columns only through z = μ + σ ⊙ ε.
    const { grads, value } = tf.variableGrads(() => tf.mean(model.terms(x, 9).nll) as tf.Scalar, [head]);
    const d = model.latentDim;
    const grad = grads[head.name] as tf.Tensor2D;
    const [gMu, gLogVar] = tf.split(grad, 2, 1);
    expect(tf.max(tf.abs(gMu)).dataSync()[0]).toBeGreaterThan(0);
    expect(tf.max(tf.abs(gLogVar)).dataSync()[0]).toBeGreaterThan(0);
    expect(grad.shape[1]).toBe(2 * d);
    tf.dispose([value, gMu, gLogVar, ...Object.values(grads)]);

    const loss = () => tf.tidy(() => tf.mean(model.terms(x, 1).negElbo).dataSync()[0]);
    const first = loss();
    const optimizer = tf.train.adam(3e-3);
    const vars = [...model.params.trainable().values()];
    for (let i = 0; i < 15; i++) optimizer.minimize(() => tf.div(tf.mean(model.terms(x, i).negElbo), model.dims) as tf.Scalar, false, vars);
    expect(loss()).toBeLessThan(first);
    optimizer.dispose();
    x.dispose();
    model.dispose();
  });

  it("gives the same reconstructions after a float16 save and load, and refuses another kind", async () => {
    const model = new VAE(tinyVAEConfig(), 4);
    const ckpt = path.join(dir, "vae");
    await saveCheckpoint(ckpt, model.params.all(), { kind: "vae", config: model.config, dtype: "float16" });
    const { model: loaded, manifest } = VAE.load(ckpt);
    expect(manifest.kind).toBe("vae");
    expect(loaded.config).toEqual(model.config);
    const x = images(2);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(model.reconstruct(x), loaded.reconstruct(x)))).dataSync()[0]);
    expect(diff).toBeLessThan(2e-2);
    await saveCheckpoint(path.join(dir, "other"), model.params.all(), { kind: "vqvae", config: model.config });
    expect(() => VAE.load(path.join(dir, "other"))).toThrow(/holds a "vqvae" checkpoint, expected vae/);
    tf.dispose(x);
    model.dispose();
    loaded.dispose();
  });

  it("variations: scale 0 is k copies of the reconstruction, a seed repeats, another seed differs; a blend ends at both reconstructions", () => {
    const model = new VAE(tinyVAEConfig(), 5);
    const [a, b] = [images(1, 1), images(1, 2)];
    const maxDiff = (p: tf.Tensor, q: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0]);
    const recon = model.reconstruct(a);
    const same = model.variations(a, 4, 0, 1);
    expect(same.shape).toEqual([4, 32, 32, 3]);
    expect(maxDiff(same, tf.tile(recon, [4, 1, 1, 1]))).toBeLessThan(1e-5);
    const v1 = model.variations(a, 4, 3, 7);
    const v2 = model.variations(a, 4, 3, 7);
    const v3 = model.variations(a, 4, 3, 8);
    expect(maxDiff(v1, v2)).toBe(0);
    expect(maxDiff(v1, v3)).toBeGreaterThan(0);
    const strip = model.blend(a, b, 5);
    expect(strip.shape).toEqual([5, 32, 32, 3]);
    const reconB = model.reconstruct(b);
    expect(maxDiff(tf.slice(strip, [0], [1]), recon)).toBeLessThan(1e-5);
    expect(maxDiff(tf.slice(strip, [4], [1]), reconB)).toBeLessThan(1e-5);
    expect(() => model.blend(a, b, 1)).toThrow(/steps/);
    tf.dispose([a, b, recon, same, v1, v2, v3, strip, reconB]);
    model.dispose();
  });

  it("leaks no tensors in encode, decode, decodeDistribution, terms, reconstruct, sample, variations and blend", () => {
    const model = new VAE(tinyVAEConfig(), 6);
    const x = images(2);
    const one = images(1, 9);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      const { mu, logVar } = model.encode(x);
      const p = model.decodeDistribution(mu);
      const t = model.terms(x, i);
      tf.dispose([mu, logVar, p.mean, p.logVar, t.negElbo, t.nll, t.kl, t.mu]);
      const z = tf.zeros([1, 8]) as tf.Tensor2D;
      tf.dispose([z, model.decode(z)]);
      tf.dispose([model.reconstruct(x), model.sample(3, i), model.variations(one, 3, 1, i), model.blend(one, one, 3)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, one]);
    model.dispose();
  });
});
