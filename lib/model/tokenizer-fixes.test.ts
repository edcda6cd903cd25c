// Guards for the bugs an image tokenizer can quietly carry (issue 14): each test fails if the bug is planted —
// the commitment's stop-gradient on the wrong side, a dVAE that ignores τ, its KL weight or its usage term, a dead
// code never revived (or revived every step), the GAN losses' signs, a discriminator that learns from the
// generator's loss, and zero padding at the border.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { createDiscriminator, discriminate } from "./discriminator";
import { adaptiveWeight, discriminatorLoss, generatorLoss } from "./gan-loss";
import { batchKlToUniform, GumbelQuantizer } from "./gumbel-quantizer";
import { ParamStore } from "./params";
import { deadCodes, pickRows, VectorQuantizer } from "./vector-quantizer";
import { DEFAULT_VQ_CONFIG, vqConfigFromManifest, type VQConfig } from "./vq-config";
import { VQModel } from "./vq-model";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
});

const small = (over: Partial<VQConfig> = {}): VQConfig => ({
  ...DEFAULT_VQ_CONFIG,
  encoderWidths: [8, 16],
  decoderWidths: [8, 16],
  outputWidth: 8,
  codebookSize: 8,
  embedDim: 4,
  ...over,
});

describe("VQ-VAE commitment loss", () => {
  it("pulls z_e towards its code (gradient β·2(z − e)/n) and, without EMA, the code towards z_e", () => {
    const store = new ParamStore(1);
    const vq = new VectorQuantizer(store, small({ ema: false, codebookSize: 2, embedDim: 2, beta: 0.25 }));
    const e = store.get("vq.embedding");
    e.assign(
      tf.tensor2d([
        [0, 0],
        [10, 10],
      ]),
    );
    const zE = tf.tensor4d([1, 2], [1, 1, 1, 2]); // nearest code 0
    const gz = tf.grad((z: tf.Tensor) => vq.quantize(z as tf.Tensor4D, { training: true }).loss)(zE);
    // commitment = mean((z − sg[e])²) over n = 2 values: d/dz = β · 2(z − e)/2.
    expect(Array.from(gz.dataSync())).toEqual([0.25, 0.5].map((v) => expect.closeTo(v, 6)) as unknown as number[]);
    const { grads } = tf.variableGrads(() => vq.quantize(zE, { training: true }).loss, [e]);
    // codebook = mean((sg[z] − e)²): d/de_0 = 2(e − z)/2 = −z; code 1 unused.
    expect(Array.from(grads[e.name].dataSync())).toEqual([-1, -2, 0, 0].map((v) => expect.closeTo(v, 6)) as unknown as number[]);
    store.dispose();
  });
});

describe("dVAE", () => {
  const cfg = small({ kind: "dvae", codebookSize: 4, hardGumbel: true, usageWeight: 0 });
  const logits = tf.tensor4d([2, 0.5, -1, 0, 0, 1, 0, -1], [1, 1, 2, 4]);

  it("trains on hard one-hots whose gradient depends on τ", () => {
    const store = new ParamStore(3);
    const q = new GumbelQuantizer(store, cfg);
    const zq = q.quantize(logits, { training: true, temperature: 1, noiseSeed: 9 }).zQ;
    const e = store.get("gumbel.embedding").arraySync() as number[][];
    // Hard forward: each position's zQ is exactly one codebook row.
    for (const row of zq.reshape([2, cfg.embedDim]).arraySync() as number[][])
      expect(e.some((r) => r.every((v, i) => Math.abs(v - row[i]) < 1e-6))).toBe(true);
    const grad = (tau: number) =>
      tf
        .grad((l: tf.Tensor) => tf.sum(tf.square(q.quantize(l as tf.Tensor4D, { training: true, temperature: tau, noiseSeed: 9 }).zQ)))(
          logits,
        )
        .dataSync();
    // Same noise, same hard sample; only τ differs. A quantizer that ignored τ would give the same gradient.
    const [g1, g16] = [grad(1), grad(1 / 16)];
    const diff = Math.hypot(...g1.map((v, i) => v - g16[i]));
    expect(diff).toBeGreaterThan(0.1 * Math.hypot(...g1));
    store.dispose();
  });

  it("adds klWeight × KL and usageWeight × the batch KL to its loss", () => {
    const store = new ParamStore(3);
    const q = new GumbelQuantizer(store, { ...cfg, usageWeight: 0.5 });
    const r0 = q.quantize(logits, { training: true, temperature: 1, klWeight: 0, noiseSeed: 1 });
    const r2 = q.quantize(logits, { training: true, temperature: 1, klWeight: 2, noiseSeed: 1 });
    const kl = r0.logs.kl.dataSync()[0];
    const batchKl = r0.logs.batchKl.dataSync()[0];
    expect(kl).toBeGreaterThan(0);
    expect(r0.loss.dataSync()[0]).toBeCloseTo(0.5 * batchKl, 5);
    expect(r2.loss.dataSync()[0]).toBeCloseTo(2 * kl + 0.5 * batchKl, 5);
    store.dispose();
  });

  it("measures batch-level usage: 0 when the batch spreads evenly, log K when every row picks one code", () => {
    const spread = tf.tensor2d([
      [9, 0],
      [0, 9],
    ]);
    const same = tf.tensor2d([
      [9, 0],
      [9, 0],
    ]);
    expect(batchKlToUniform(spread).dataSync()[0]).toBeCloseTo(0, 3);
    expect(batchKlToUniform(same).dataSync()[0]).toBeCloseTo(Math.log(2), 2);
  });
});

describe("dead-code restarts", () => {
  it("finds codes below the threshold and picks rows ∝ weight", () => {
    expect(deadCodes(Float32Array.from([10, 0.1, 5, 0]), 4, 0.05)).toEqual([1, 3]);
    const picks = pickRows(Float32Array.from([0, 0, 1, 0]), 4, 20, 5);
    expect(new Set(picks)).toEqual(new Set([2]));
    expect(pickRows(null, 4, 200, 5).every((i) => i >= 0 && i < 4)).toBe(true);
  });

  const run = async (restartEvery: number, updates: number) => {
    const store = new ParamStore(2);
    const vq = new VectorQuantizer(store, small({ codebookSize: 4, embedDim: 2, restartEvery }));
    // 32 vectors: 31 at the origin and 1 far out at (5, 5). The first update seeds every code from uniformly drawn
    // vectors (with this seed: all from the origin).
    const z = tf.tensor4d(Array.from({ length: 32 }, (_, i) => (i < 31 ? [0, 0] : [5, 5])).flat(), [1, 4, 8, 2]);
    for (let u = 0; u < updates; u++) {
      const codes = tf.tidy(() => vq.quantize(z, { training: true }).codes);
      await vq.update(z, codes);
      codes.dispose();
    }
    const e = store.get("vq.embedding").arraySync() as number[][];
    const counts = Array.from(store.get("vq.emaCount").dataSync());
    store.dispose();
    return { e, counts };
  };

  const near = (e: number[][]) => e.some((r) => Math.hypot(r[0] - 5, r[1] - 5) < 0.1);

  it("revives a code that stays unused from the worst-represented vector, on its restartEvery schedule", async () => {
    // Seeded at the origin, the origin's vectors all go to one code (argmin takes the first); the others die and,
    // once their EMA count falls under the threshold (~90 updates), one is restarted at the far vector.
    expect(near((await run(1, 20)).e)).toBe(false);
    const revived = await run(1, 200);
    expect(near(revived.e)).toBe(true);
    expect(revived.counts.filter((c) => c > 0.05 * (32 / 4)).length).toBeGreaterThanOrEqual(2);
    // Checked only at the first update: nothing is revived later.
    expect(near((await run(1000, 200)).e)).toBe(false);
    expect(near((await run(100, 200)).e)).toBe(true);
  });
});

describe("VQ-GAN losses", () => {
  it("rewards the generator for fooling D and D for telling them apart", () => {
    const fake = tf.tensor1d([0.5, -1]);
    const real = tf.tensor1d([1, 2]);
    const dG = tf
      .grad((l: tf.Tensor) => generatorLoss(l))(fake)
      .dataSync();
    for (const g of dG) expect(g).toBeLessThan(0); // raising D(fake) lowers the generator's loss
    const [dReal, dFake] = tf.grads((r: tf.Tensor, f: tf.Tensor) => discriminatorLoss(r, f))([real, fake]);
    for (const g of dReal.dataSync()) expect(g).toBeLessThan(0);
    for (const g of dFake.dataSync()) expect(g).toBeGreaterThan(0);
    expect(generatorLoss(tf.tensor1d([0])).dataSync()[0]).toBeCloseTo(Math.log(2), 6);
  });

  it("lets a frozen judgement train only the generator", () => {
    const store = new ParamStore(4);
    const d = createDiscriminator(store, { channels: 3, widths: [4, 8] });
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 1) as tf.Tensor4D;
    const vars = [...store.trainable().values()];
    const frozen = tf.variableGrads(() => generatorLoss(discriminate(d, x, true).logits), vars);
    for (const g of Object.values(frozen.grads)) expect(tf.max(tf.abs(g)).dataSync()[0]).toBe(0);
    const live = tf.variableGrads(() => generatorLoss(discriminate(d, x).logits), vars);
    expect(Object.values(live.grads).some((g) => tf.max(tf.abs(g)).dataSync()[0] > 0)).toBe(true);
    expect(tf.grad((y: tf.Tensor) => generatorLoss(discriminate(d, y as tf.Tensor4D, true).logits))(x).shape).toEqual([2, 8, 8, 3]);
    store.dispose();
  });

  it("balances the adversarial gradient against the reconstruction's", () => {
    expect(adaptiveWeight(2, 0.5, 0)).toBe(4);
    expect(adaptiveWeight(1, 0)).toBe(1e4);
    expect(adaptiveWeight(NaN, 1)).toBe(0);
  });
});

describe("border padding", () => {
  const plain = () => tf.ones([1, 32, 32, 3]) as tf.Tensor4D;
  const spread = (padding: "edge" | "zero") => {
    const model = new VQModel(small({ padding }), 7);
    const f = model.forward(plain(), { training: false });
    const z = f.latents; // [1, 8, 8, D]
    const range = tf
      .sub(tf.max(z, [1, 2]), tf.min(z, [1, 2]))
      .max()
      .dataSync()[0];
    tf.dispose([f.reconstruction, f.loss, f.codes, f.latents, f.features, ...Object.values(f.losses)]);
    model.dispose();
    return range;
  };

  it("codes a plain image the same everywhere with edge padding, not with zero padding", () => {
    expect(spread("edge")).toBeLessThan(1e-5);
    expect(spread("zero")).toBeGreaterThan(1e-3);
  });

  it("reads a manifest written before padding existed as zero padding", () => {
    const { padding: _p, restartEvery: _r, usageWeight: _u, ...old } = DEFAULT_VQ_CONFIG;
    const c = vqConfigFromManifest({ ...old, hardGumbel: false });
    expect(c).toMatchObject({ padding: "zero", restartEvery: 1, usageWeight: 0 });
    expect(vqConfigFromManifest({ ...DEFAULT_VQ_CONFIG }).padding).toBe("edge");
  });
});
