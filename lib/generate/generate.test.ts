// Loads a real (tiny, untrained) model folder written by the same code as training's export, and generates.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../tensor/backend";
import { generateImages } from "./generate";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { writeTinyModelFolder as writeModelFolder } from "../../test/fixtures/tiny-model";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";

let dir: string;
let bundle: ModelBundle;

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
    const r = await generateImages(
      bundle,
      { prompt: "Red heart, noto", n: 2, guidance: 2, temperature: 1, seed: 3 },
      {
        partialEvery: 16,
        onProgress: (p) => {
          progress.push(p.done);
          if (p.partial) partials++;
        },
      },
    );
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

  it("loads the CLIP a folder carries in clip/ (or where its manifest says), and refuses one that does not fit", async () => {
    expect(bundle.clip).toBeUndefined();
    const withClip = path.join(dir, "with-clip");
    await writeModelFolder(withClip);
    await writeTinyClip(withClip, 1, "ranker");
    // Not in the default place, and the manifest does not name it: no CLIP.
    const without = await loadModelBundle(withClip);
    expect(without.clip).toBeUndefined();
    without.dispose();
    const manifestFile = path.join(withClip, "manifest.json");
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, extra: { ...manifest.extra, clip: "ranker" } }));
    const loaded = await loadModelBundle(withClip);
    expect(loaded.clip?.model.config.textLen).toBe(6);
    loaded.dispose();
    fs.writeFileSync(manifestFile, JSON.stringify({ ...manifest, extra: { ...manifest.extra, clip: "missing" } }));
    await expect(loadModelBundle(withClip)).rejects.toThrow(/names a CLIP in missing\/, which holds no manifest.json/);
    // A CLIP over another vocabulary cannot read this model's prompts.
    fs.writeFileSync(manifestFile, JSON.stringify(manifest));
    await writeTinyClip(withClip);
    const vocabFile = path.join(withClip, "clip", "tokenizer.json");
    const tok = JSON.parse(fs.readFileSync(vocabFile, "utf8"));
    tok.model.vocab["zzz</w>"] = Object.keys(tok.model.vocab).length;
    fs.writeFileSync(vocabFile, JSON.stringify(tok));
    await expect(loadModelBundle(withClip)).rejects.toThrow(/the CLIP expects/);
  });
});
