// Loads a real (tiny, untrained) model folder written by the same code as training's export, and generates.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trainTextTokenizer } from "../../training/train-text-tokenizer";
import { saveCheckpoint } from "../model/checkpoint";
import { Transformer } from "../model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG } from "../model/transformer-config";
import { DEFAULT_VQ_CONFIG } from "../model/vq-config";
import { VQModel } from "../model/vq-model";
import { selectBackend } from "../tensor/backend";
import { generateImages } from "./generate";
import { loadModelBundle, type ModelBundle } from "./model-bundle";

let dir: string;
let bundle: ModelBundle;

async function writeModelFolder(folder: string, codebookSize = 16): Promise<void> {
  const captions = ["grinning face, noto", "red heart, twemoji", "waving hand, openmoji", "red apple, fluent", "grinning cat, noto"];
  await trainTextTokenizer(captions, folder, { vocabSize: 64, minFrequency: 1 });
  const vocab = JSON.parse(fs.readFileSync(path.join(folder, "tokenizer.json"), "utf8")).model.vocab as Record<string, number>;
  const vq = new VQModel({ ...DEFAULT_VQ_CONFIG, encoderWidths: [8, 16], decoderWidths: [8, 16], outputWidth: 8, codebookSize, embedDim: 8 }, 1);
  await saveCheckpoint(path.join(folder, "image-tokenizer"), vq.params.all(), { kind: "vqvae", config: vq.config, dtype: "float16" });
  const gpt = new Transformer({ ...DEFAULT_TRANSFORMER_CONFIG, textVocab: Object.keys(vocab).length, textLen: 8, imageVocab: 16, imageGrid: 8, nLayer: 1, nHead: 2, nEmbd: 16, dropout: 0 }, 2);
  const files = new Set(fs.readdirSync(folder));
  await saveCheckpoint(folder, gpt.params.all(), { kind: "transformer", config: gpt.config, dtype: "float16", extra: { imageTokenizer: "image-tokenizer" } });
  expect(files.has("tokenizer.json")).toBe(true);
  vq.dispose();
  gpt.dispose();
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-bundle-"));
  await writeModelFolder(path.join(dir, "model"));
  bundle = await loadModelBundle(path.join(dir, "model"));
});
afterAll(() => {
  bundle?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("generation", () => {
  it("turns a prompt into n PNG images, reporting progress and partial pictures", async () => {
    const progress: number[] = [];
    let partials = 0;
    const r = await generateImages(bundle, { prompt: "Red heart, noto", n: 2, guidance: 2, temperature: 1, seed: 3 }, {
      partialEvery: 16,
      onProgress: (p) => {
        progress.push(p.done);
        if (p.partial) partials++;
      },
    });
    expect(r.images).toHaveLength(2);
    expect(progress).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
    expect(partials).toBe(3); // at 16, 32 and 48 tokens; the final images come with the result
    const meta = await sharp(r.images[0].png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["png", 32, 32]);
    expect(r.warnings).toEqual({ truncated: false, unknownWords: [] });
    expect(r.codes[0]).toHaveLength(64);
  });

  it("reports unseen words and truncation, and is reproducible for a seed", async () => {
    const params = { prompt: "zebra unicorn grinning face red heart waving hand apple cat", n: 1, guidance: 1, temperature: 1, seed: 9 };
    const a = await generateImages(bundle, params);
    const b = await generateImages(bundle, params);
    expect(a.warnings.truncated).toBe(true);
    expect(a.warnings.unknownWords).toEqual(["zebra", "unicorn"]);
    expect([...a.codes[0]]).toEqual([...b.codes[0]]);
  });

  it("leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    await generateImages(bundle, { prompt: "grinning cat", n: 2, guidance: 3, temperature: 0.7, topK: 4, seed: 1 }, { partialEvery: 8 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("refuses a folder whose parts do not fit together", async () => {
    const other = path.join(dir, "mismatch");
    await writeModelFolder(other, 32);
    await expect(loadModelBundle(other)).rejects.toThrow(/does not fit this model|does not match the transformer/);
  });
});
