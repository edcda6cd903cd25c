// The exemplar bank of a model folder: written and read back exactly, refused with a clear message when a file is
// wrong, loaded with the bundle, and its vote and the server's mixed ranking on hand-built candidates, without leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { selectBackend } from "../tensor/backend";
import { EXEMPLARS_FORMAT, exemplarVotes, loadExemplars, readExemplars, writeExemplars, type ExemplarManifest } from "./exemplar-folder";
import type { ExemplarBank } from "./exemplars";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { embedTexts, rerank } from "./rerank";

const SIDE = 2;
const COUNT = 70; // more than one row of the PNG (64 a row)
const CAPTIONS = Array.from(
  { length: COUNT },
  (_, i) => ["red heart, twemoji", "rocket, openmoji", "thumbs up, noto", "cat face"][i % 4] + ` ${i}`,
);
/** Picture i: flat, its own grey level (levels 0, 3, 6, …), so every candidate copy of one is nearest to it alone. */
const level = (i: number) => i * 3;
const BANK: ExemplarBank = {
  count: COUNT,
  captions: CAPTIONS,
  side: SIDE,
  pictures: Uint8Array.from({ length: COUNT * SIDE * SIDE * 3 }, (_, j) => level(Math.floor(j / (SIDE * SIDE * 3)))),
};
const manifest = (over: Partial<ExemplarManifest> = {}): ExemplarManifest => ({
  format: EXEMPLARS_FORMAT,
  version: 1,
  count: COUNT,
  side: SIDE,
  neighbours: 1,
  weight: 1000,
  dataHash: "test",
  split: "train",
  createdAt: "2026-12-07T00:00:00.000Z",
  ...over,
});

let dir: string;
let bundle: ModelBundle;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-exemplars-"));
  await writeTinyModelFolder(dir);
  await writeTinyClip(dir);
  await writeExemplars(path.join(dir, "exemplars"), manifest(), BANK);
  bundle = await loadModelBundle(dir);
});
afterAll(() => {
  bundle?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Candidates [N, 32, 32, 3] in [0, 1], candidate k a flat copy of bank picture ids[k]. */
const copiesOf = (ids: number[]) =>
  tf.tidy(
    () => tf.mul(tf.ones([ids.length, 32, 32, 3]), tf.reshape(tf.tensor1d(ids.map((i) => level(i) / 255)), [-1, 1, 1, 1])) as tf.Tensor4D,
  );

describe("exemplar folder", () => {
  it("reads back exactly what was written, across PNG rows, with far more than 256 colours", async () => {
    // Every pixel its own colour: a palette PNG (256 colours) could not hold them.
    const colour = (p: number) => [p & 255, p >> 8, (p * 7) & 255]; // 280 pixels, 280 colours
    const many: ExemplarBank = {
      ...BANK,
      pictures: Uint8Array.from({ length: BANK.pictures.length }, (_, j) => colour(Math.floor(j / 3))[j % 3]),
    };
    const sub = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-exemplars-many-"));
    try {
      await writeExemplars(sub, manifest(), many);
      const back = (await readExemplars(sub)).bank;
      expect(
        new Set(Array.from({ length: COUNT * SIDE * SIDE }, (_, p) => back.pictures.subarray(p * 3, p * 3 + 3).join())).size,
      ).toBeGreaterThan(256);
      expect(Buffer.from(back.pictures).equals(Buffer.from(many.pictures))).toBe(true);
    } finally {
      fs.rmSync(sub, { recursive: true, force: true });
    }

    const { manifest: m, bank } = await readExemplars(path.join(dir, "exemplars"));
    expect(m).toEqual(manifest());
    expect(bank.captions).toEqual(CAPTIONS);
    expect(Buffer.from(bank.pictures).equals(Buffer.from(BANK.pictures))).toBe(true);
  });

  it("loads with the bundle; a folder without one has none", async () => {
    expect(bundle.exemplars?.bank.count).toBe(COUNT);
    expect(bundle.exemplars?.weight).toBe(1000);
    expect(await loadExemplars(path.join(dir, "clip"), 32)).toBeUndefined();
  });

  it("refuses a bank whose files disagree, naming the file", async () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-exemplars-bad-"));
    try {
      const sub = path.join(bad, "exemplars");
      await writeExemplars(sub, manifest(), BANK);
      expect(await loadExemplars(bad, 32)).toBeDefined();
      await expect(loadExemplars(bad, 31)).rejects.toThrow(/2-pixel pictures cannot be compared with the image tokenizer's 31/);
      fs.writeFileSync(path.join(sub, "manifest.json"), JSON.stringify(manifest({ count: 200 })));
      await expect(readExemplars(sub)).rejects.toThrow(/pictures\.png is 128×4×3; 200 pictures of 2×2×3 need 128×8/);
      fs.writeFileSync(path.join(sub, "manifest.json"), JSON.stringify({ ...manifest(), format: "other" }));
      await expect(readExemplars(sub)).rejects.toThrow(/not an exemplar manifest/);
      fs.writeFileSync(path.join(sub, "manifest.json"), JSON.stringify(manifest()));
      fs.writeFileSync(path.join(sub, "captions.json"), "[1, 2]");
      await expect(readExemplars(sub)).rejects.toThrow(/captions\.json: not a list of captions/);
      fs.rmSync(path.join(sub, "pictures.png"));
      fs.writeFileSync(path.join(sub, "captions.json"), JSON.stringify(CAPTIONS));
      await expect(readExemplars(sub)).rejects.toThrow(/cannot read pictures\.png .*npm run exemplars/);
      await expect(writeExemplars(sub, manifest({ count: 3 }), BANK)).rejects.toThrow(/a bank of 70 at 2, the manifest says 3 at 2/);
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });
});

describe("the shipped bank (models/default/exemplars)", () => {
  it("reads, fits the shipped image tokenizer's pictures and holds training pictures only", async () => {
    const part = await loadExemplars("models/default", 32);
    expect(part).toBeDefined();
    const { manifest: m, bank } = await readExemplars("models/default/exemplars");
    expect(m.split).toBe("train");
    expect(bank.count).toBeGreaterThan(10_000);
    expect(new Set(bank.captions).size).toBe(bank.count);
    // Not a blank or constant atlas: the pictures differ.
    const first = bank.pictures.subarray(0, m.side * m.side * 3);
    const last = bank.pictures.subarray((bank.count - 1) * m.side * m.side * 3);
    expect(Buffer.from(first).equals(Buffer.from(last))).toBe(false);
  });
});

describe("exemplar votes", () => {
  it("give each candidate the cosine of the prompt with its nearest picture's caption", async () => {
    const clip = bundle.clip!;
    const part = bundle.exemplars!;
    const ids = [5, 2, 67, 8]; // four different labels (i % 4)
    const { dim, embeddings } = await embedTexts(clip, [CAPTIONS[2], ...ids.map((i) => CAPTIONS[i])]);
    const row = (k: number) => embeddings.subarray(k * dim, (k + 1) * dim);
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, v, j) => s + v * b[j], 0);
    const pixels = copiesOf(ids);
    const levels = Array.from(await tf.tidy(() => tf.round(tf.mul(pixels, 255))).data());
    pixels.dispose();
    const rows = ids.map((_, k) => levels.slice(k * 32 * 32 * 3, (k + 1) * 32 * 32 * 3));
    const votes = await exemplarVotes(part, clip, row(0), rows, 32);
    ids.forEach((_, k) => expect(votes[k]).toBeCloseTo(cos(row(0), row(k + 1)), 5));
    // The copy of the prompt's own picture agrees with it exactly; the others less.
    expect(votes[1]).toBeCloseTo(1, 5);
    expect(Math.max(votes[0], votes[2], votes[3])).toBeLessThan(votes[1]);
    expect([...part.embedded.keys()].sort((a, b) => a - b)).toEqual([2, 5, 8, 67]);
  });

  it("decide the server's ranking at a large weight, while the stored scores stay CLIP's", async () => {
    const clip = bundle.clip!;
    const ids = [0, 5, 10, 15]; // four different labels (i % 4)
    const pixels = copiesOf(ids);
    try {
      // A prompt (the caption of one candidate's picture) for which CLIP alone keeps another candidate first: the
      // untrained CLIP does not know these pictures.
      let target = -1;
      for (const [k, id] of ids.entries()) if ((await rerank(clip, CAPTIONS[id], pixels, 2)).kept[0].index !== k) target = k;
      expect(target).toBeGreaterThanOrEqual(0);
      const plain = await rerank(clip, CAPTIONS[ids[target]], pixels, 2);
      const mixed = await rerank(clip, CAPTIONS[ids[target]], pixels, 2, bundle.exemplars);
      expect(Array.from(mixed.scores)).toEqual(Array.from(plain.scores));
      // The copy whose nearest picture is captioned as the prompt is kept first.
      expect(mixed.kept[0].index).toBe(target);
      expect(plain.kept[0].index).not.toBe(target);
    } finally {
      pixels.dispose();
    }
  });

  it("leak no tensors", async () => {
    const pixels = copiesOf([1, 2, 3]);
    const before = tf.memory().numTensors;
    await rerank(bundle.clip!, CAPTIONS[7], pixels, 2, bundle.exemplars);
    expect(tf.memory().numTensors).toBe(before);
    pixels.dispose();
  });
});
