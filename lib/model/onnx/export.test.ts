// The exported prefill and decode step against the tfjs ones they replace (Transformer.prefill / extend), position
// by position, with and without <null>-caption guidance rows; and proof that the comparisons can tell, by
// exporting with each planted bug.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../tensor/backend";
import { mulberry32 } from "../../data/rng";
import { Transformer, type KVCache } from "../transformer";
import { imageTokens } from "../transformer-config";
import { scrambleWeights as scramble, tinyTransformerConfig as tinyConfig } from "../../../test/fixtures/tiny-transformer";
import { OnnxDecoder } from "./decoder-session";
import type { PlantedBugs } from "./export-decoder";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

/** Max |tfjs − ONNX| of the next-token logits over every decode step of one image, for prompt rows `texts`. */
async function maxStepDiff(model: Transformer, texts: number[][], decoder: OnnxDecoder, seed = 1): Promise<number> {
  const c = model.config;
  const rand = mulberry32(seed);
  const prompts = tf.tensor2d(texts, [texts.length, c.textLen], "int32");
  let { logits, cache }: { logits: tf.Tensor2D; cache: KVCache } = model.prefill(prompts);
  const state = await decoder.fromTfjsCache(cache);
  let worst = 0;
  try {
    for (let i = 0; i < imageTokens(c) - 1; i++) {
      const codes = Int32Array.from(texts, () => Math.floor(rand() * c.imageVocab));
      const fed = tf.tensor1d(codes, "int32");
      const next = model.extend(cache, fed, i);
      fed.dispose();
      logits.dispose();
      ({ logits, cache } = next);
      const want = logits.dataSync();
      const got = await state.step(codes, i);
      expect(got.length).toBe(want.length);
      for (let j = 0; j < want.length; j++) worst = Math.max(worst, Math.abs(want[j] - got[j]));
    }
  } finally {
    logits.dispose();
    for (const l of cache) tf.dispose([l.kT, l.v]);
    prompts.dispose();
  }
  return worst;
}

/**
 * Max |tfjs − ONNX| over the prefill's first-token logits and its whole cache (the ONNX cache is padded to the
 * image's capacity: its first T positions must equal tfjs's, the rest must be zero).
 */
async function maxPrefillDiff(model: Transformer, texts: number[][], decoder: OnnxDecoder): Promise<number> {
  const c = model.config;
  const t = c.textLen;
  const hd = c.nEmbd / c.nHead;
  const want = model.prefill(tf.tensor2d(texts, [texts.length, t], "int32"));
  const got = await decoder.prefill(texts);
  const cap = got.state.capacity;
  let worst = 0;
  const cmp = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  };
  cmp(want.logits.dataSync(), got.logits);
  const { kT, v } = got.state as unknown as { kT: Float32Array[]; v: Float32Array[] };
  want.cache.forEach((l, layer) => {
    // Row r of kT is one (b, h, d): t positions in tfjs, cap in ONNX; v's rows are (b, h) blocks of positions × hd.
    const [wk, wv] = [l.kT.dataSync(), l.v.dataSync()];
    for (let r = 0; r < texts.length * c.nHead * hd; r++) {
      cmp(wk.subarray(r * t, (r + 1) * t), kT[layer].subarray(r * cap, r * cap + t));
      cmp(new Float32Array(cap - t), kT[layer].subarray(r * cap + t, (r + 1) * cap));
    }
    for (let bh = 0; bh < texts.length * c.nHead; bh++) {
      cmp(wv.subarray(bh * t * hd, (bh + 1) * t * hd), v[layer].subarray(bh * cap * hd, (bh * cap + t) * hd));
      cmp(new Float32Array((cap - t) * hd), v[layer].subarray((bh * cap + t) * hd, (bh + 1) * cap * hd));
    }
  });
  want.logits.dispose();
  for (const l of want.cache) tf.dispose([l.kT, l.v]);
  return worst;
}

const prompt = [3, 4, 0, 0];
const other = [5, 6, 7, 8];
const nul = [2, 0, 0, 0];

describe("ONNX decode step", () => {
  it("gives the tfjs step's logits within 1e-4 at every position (one row, no guidance)", async () => {
    const model = new Transformer(tinyConfig, 11);
    scramble(model, 100);
    const decoder = await OnnxDecoder.create(model);
    expect(await maxStepDiff(model, [prompt], decoder)).toBeLessThan(1e-4);
    await decoder.release();
    model.dispose();
  });

  it("does so with guidance rows (two prompts × two images, then their <null> rows) and a deeper, wider model", async () => {
    const model = new Transformer({ ...tinyConfig, nLayer: 3, nHead: 4, nEmbd: 32, imageGrid: 4, imageVocab: 12 }, 12);
    scramble(model, 200);
    const decoder = await OnnxDecoder.create(model);
    const rows = [prompt, prompt, other, other, nul, nul, nul, nul];
    expect(await maxStepDiff(model, rows, decoder, 2)).toBeLessThan(1e-4);
    await decoder.release();
    model.dispose();
  });

  it("gives the tfjs prefill's logits and cache within 1e-4, padded ids and guidance rows included", async () => {
    const model = new Transformer({ ...tinyConfig, nLayer: 3, nHead: 4, nEmbd: 32 }, 15);
    scramble(model, 250);
    const decoder = await OnnxDecoder.create(model);
    expect(await maxPrefillDiff(model, [prompt, other, nul], decoder)).toBeLessThan(1e-4);
    expect(await maxPrefillDiff(model, [prompt], decoder)).toBeLessThan(1e-4);
    await decoder.release();
    model.dispose();
  });

  it("refuses a step past the cache's capacity", async () => {
    const model = new Transformer(tinyConfig, 13);
    const decoder = await OnnxDecoder.create(model);
    const { state } = await decoder.prefill([prompt]);
    for (let i = 0; i < imageTokens(tinyConfig) - 1; i++) await state.step(Int32Array.of(1), i);
    await expect(state.step(Int32Array.of(1), 8)).rejects.toThrow(/all filled/);
    await decoder.release();
    model.dispose();
  });

  // Each bug is one the export could plausibly make; the equality check above must see every one of them.
  const bugs: (keyof PlantedBugs)[] = ["noMask", "skipLn1", "scaleByHd", "tanhGelu", "positionOffByOne"];
  it.each(bugs)("tells a step exported with the planted bug %s from the tfjs one", async (bug) => {
    const model = new Transformer(tinyConfig, 14);
    scramble(model, 300);
    const decoder = await OnnxDecoder.create(model, { [bug]: true });
    expect(await maxStepDiff(model, [prompt, nul], decoder)).toBeGreaterThan(1e-2);
    await decoder.release();
    model.dispose();
  });

  it.each(bugs)("tells a prefill exported with the planted bug %s from the tfjs one", async (bug) => {
    const model = new Transformer(tinyConfig, 16);
    scramble(model, 350);
    const decoder = await OnnxDecoder.create(model, { [bug]: true });
    expect(await maxPrefillDiff(model, [prompt, nul], decoder)).toBeGreaterThan(1e-2);
    await decoder.release();
    model.dispose();
  });
});
