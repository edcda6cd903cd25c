// The image tokenizer end to end, at a tiny size: shapes, identical codes after a float16 save/load, no leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { registerFastGradients } from "../tensor/gradients";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { fromHalf, toHalf } from "./float16";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "./vq-config";
import { VQModel } from "./vq-model";

const tiny = (kind: VQConfig["kind"]): VQConfig => ({
  ...DEFAULT_VQ_CONFIG,
  kind,
  encoderWidths: [8, 16],
  decoderWidths: [8, 16],
  outputWidth: 8,
  codebookSize: 32,
  embedDim: 8,
});
let dir: string;
const images = () => tf.randomUniform([3, 32, 32, 3], 0, 1, "float32", 5) as tf.Tensor4D;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vq-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe.each(["vqvae", "dvae"] as const)("%s", (kind) => {
  it("encodes [B,32,32,3] to int32 codes [B,8,8] and decodes them to [B,32,32,3] in [0,1]", () => {
    const model = new VQModel(tiny(kind), 1);
    const x = images();
    const codes = model.encode(x);
    expect(codes.shape).toEqual([3, 8, 8]);
    expect(codes.dtype).toBe("int32");
    const values = codes.dataSync();
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(32);
    const y = model.decode(codes);
    expect(y.shape).toEqual([3, 32, 32, 3]);
    expect(tf.min(y).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(y).dataSync()[0]).toBeLessThanOrEqual(1);
    tf.dispose([x, codes, y]);
    model.dispose();
  });

  it("returns the same result shape from forward whichever quantizer is inside, and trains", () => {
    const model = new VQModel(tiny(kind), 1);
    const x = images();
    const params = [...model.params.trainable().values()];
    const f = model.forward(x, { training: true, temperature: 1, klWeight: 1e-3 });
    expect(Object.keys(f).sort()).toEqual(["codes", "features", "latents", "loss", "losses", "reconstruction"]);
    expect(f.reconstruction.shape).toEqual([3, 32, 32, 3]);
    expect(f.losses.reconstruction.dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(Object.values(f.losses));
    tf.dispose([f.reconstruction, f.codes, f.latents, f.features, f.loss]);
    const { value, grads } = tf.variableGrads(() => model.forward(x, { training: true, temperature: 1, klWeight: 1e-3 }).loss, params);
    expect(Object.keys(grads)).toHaveLength(params.length);
    tf.dispose([value, x, ...Object.values(grads)]);
    model.dispose();
  });

  it("gives identical codes after a float16 save and load", async () => {
    const model = new VQModel(tiny(kind), 2);
    const x = images();
    // One EMA update, so the VQ-VAE's codebook holds data-initialised entries as a trained one would.
    const f = model.forward(x, { training: true, temperature: 1 });
    await model.afterStep(f);
    tf.dispose([f.reconstruction, f.codes, f.latents, f.features, f.loss, ...Object.values(f.losses)]);
    const before = model.encode(x);
    const ckpt = path.join(dir, `${kind}-f16`);
    await saveCheckpoint(ckpt, model.params.all(), { kind, config: model.config, dtype: "float16" });
    const loaded = loadCheckpoint(ckpt);
    const copy = new VQModel(loaded.manifest.config as unknown as VQConfig, 99);
    copy.params.load(loaded.tensors);
    tf.dispose([...loaded.tensors.values()]);
    const after = copy.encode(x);
    const same = before.dataSync().filter((c, i) => c === after.dataSync()[i]).length;
    // After one update several codes are seeded from near-identical vectors (noise 1e-3, float16's own precision),
    // so a rounded copy may pick a twin now and then; what it decodes must not change.
    expect(same / before.size).toBeGreaterThanOrEqual(0.98);
    const [a, b] = [model.decode(before), copy.decode(after)];
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0])).toBeLessThan(0.02);
    tf.dispose([a, b]);
    expect(fs.statSync(path.join(ckpt, "weights.bin")).size).toBe(
      model.params.names().reduce((s, n) => s + model.params.get(n).size * 2, 0),
    );
    tf.dispose([x, before, after]);
    model.dispose();
    copy.dispose();
  });

  it("leaks no tensors in encode, decode and forward", async () => {
    const model = new VQModel(tiny(kind), 3);
    const x = images();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const codes = model.encode(x);
      const decoded = model.decode(codes);
      model.reconstruct(x).dispose();
      // One pass gives what encode then decode give.
      const r = model.roundTrip(x);
      expect(Array.from(r.codes.dataSync())).toEqual(Array.from(codes.dataSync()));
      expect(tf.tidy(() => tf.max(tf.abs(tf.sub(r.reconstruction, decoded))).dataSync()[0])).toBeLessThan(1e-5);
      tf.dispose([codes, decoded, r.reconstruction, r.codes]);
      const f = model.forward(x, { training: true, temperature: 0.5, klWeight: 1e-3 });
      await model.afterStep(f);
      tf.dispose([f.reconstruction, f.codes, f.latents, f.features, f.loss, ...Object.values(f.losses)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
    model.dispose();
  });
});

describe("continuous autoencoder baseline (kind ae)", () => {
  it("reconstructs through the same encoder and decoder, trains, has no codes and leaks nothing", async () => {
    const model = new VQModel({ ...tiny("ae"), embedDim: 4 }, 4);
    const x = images();
    expect(model.discrete).toBe(false);
    expect(() => model.encode(x)).toThrow(/no codes/);
    const params = [...model.params.trainable().values()];
    const lossAt = () => tf.tidy(() => model.forward(x, { training: true }).loss.dataSync()[0]);
    const first = lossAt();
    const optimizer = tf.train.adam(3e-3);
    for (let i = 0; i < 20; i++) optimizer.minimize(() => model.forward(x, { training: true }).loss, false, params);
    expect(lossAt()).toBeLessThan(first);
    const before = tf.memory().numTensors;
    const r = model.reconstruct(x);
    expect(r.shape).toEqual([3, 32, 32, 3]);
    expect(Math.min(...r.dataSync())).toBeGreaterThanOrEqual(0);
    r.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const ckpt = path.join(dir, "ae");
    await saveCheckpoint(ckpt, model.params.all(), { kind: "ae", config: model.config, dtype: "float16" });
    const loaded = VQModel.load(ckpt).model;
    expect(loaded.discrete).toBe(false);
    tf.dispose([x]);
    optimizer.dispose();
    loaded.dispose();
    model.dispose();
  });
});

describe("float16 and checkpoints", () => {
  it("round-trips halves exactly for representable values and closely otherwise", () => {
    for (const v of [0, 1, -2, 0.5, 65504, 2 ** -24]) expect(fromHalf(toHalf(v))).toBe(v);
    expect(fromHalf(toHalf(70000))).toBe(Infinity);
    expect(Math.abs(fromHalf(toHalf(0.1)) - 0.1)).toBeLessThan(1e-4);
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
  });

  it("refuses a corrupt weights file and a foreign manifest", async () => {
    const ckpt = path.join(dir, "corrupt");
    await saveCheckpoint(ckpt, new Map([["a", tf.ones([4])]]), { kind: "test", config: {} });
    const w = path.join(ckpt, "weights.bin");
    const bytes = fs.readFileSync(w);
    bytes[0] ^= 0xff;
    fs.writeFileSync(w, bytes);
    expect(() => loadCheckpoint(ckpt)).toThrow(/weights.bin is corrupt/);
    fs.writeFileSync(path.join(ckpt, "manifest.json"), JSON.stringify({ hello: 1 }));
    expect(() => loadCheckpoint(ckpt)).toThrow(/is not a Tessera checkpoint/);
  });

  it("refuses weights that do not fit the model", async () => {
    const model = new VQModel(tiny("vqvae"), 1);
    expect(() => model.params.load(new Map([["enc.out.w", tf.zeros([1])]]))).toThrow(/does not fit this model: missing/);
    model.dispose();
  });
});
