// The exported decode step against the tfjs one it replaces (Transformer.extend), position by position, with and
// without <null>-caption guidance rows; and proof that the comparison can tell, by exporting with each planted bug.
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
  const state = await decoder.start(cache);
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

  it("refuses a step past the cache's capacity", async () => {
    const model = new Transformer(tinyConfig, 13);
    const decoder = await OnnxDecoder.create(model);
    const { logits, cache } = model.prefill(tf.tensor2d([prompt], [1, 4], "int32"));
    const state = await decoder.start(cache);
    logits.dispose();
    for (const l of cache) tf.dispose([l.kT, l.v]);
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
});
