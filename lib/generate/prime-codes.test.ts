// Image priming through the batch path, against a real tiny model folder (its transformer's weights scrambled so
// that logits matter), with and without a CLIP: every image (kept and rejected) starts with exactly the source's
// codes, the model is fed them (another source, the same seed: another completion), a primed job batched with
// others gets what it gets alone, the same seed completes alike on both engines, the first partial picture already
// shows the kept rows, a bad source fails its job alone, and nothing leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { scrambleWeights } from "../../test/fixtures/tiny-transformer";
import { releaseOnnxDecoder } from "../model/onnx/decoder-session";
import { selectBackend } from "../tensor/backend";
import { codesToPngs, generateBatch, type BatchOutcome } from "./batch";
import { generateImages, type GenerateParams, type GenerateProgress, type GenerateResult } from "./generate";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { primePrefix, sourceCodes } from "./prime-codes";
import { fit } from "./source-image";

let dir: string;
let plain: ModelBundle;
let ranked: ModelBundle;
let sources: Buffer[];

/** A 32×32 picture of coloured noise: its codes vary across the grid. */
async function noise(seed: number): Promise<Buffer> {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  const raw = Buffer.from(Array.from({ length: 32 * 32 * 3 }, rand));
  return fit(
    await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
      .png()
      .toBuffer(),
    32,
  );
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-prime-"));
  await writeTinyModelFolder(path.join(dir, "plain"));
  await writeTinyModelFolder(path.join(dir, "ranked"));
  await writeTinyClip(path.join(dir, "ranked"));
  plain = await loadModelBundle(path.join(dir, "plain"));
  ranked = await loadModelBundle(path.join(dir, "ranked"));
  scrambleWeights(plain.transformer, 800);
  scrambleWeights(ranked.transformer, 900);
  sources = await Promise.all([noise(1), noise(2)]);
});
afterAll(async () => {
  for (const b of [plain, ranked]) {
    if (!b) continue;
    await releaseOnnxDecoder(b.transformer);
    b.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const ok = (o: BatchOutcome): GenerateResult => {
  if (!o.ok) throw o.error;
  return o.result;
};
const allCodes = (r: GenerateResult) => [...r.images, ...r.rejected].map((i) => Array.from(i.codes!));
const primed = (source: Buffer, keepRows: number, over: Partial<GenerateParams> = {}): GenerateParams => ({
  prompt: "red heart, twemoji",
  n: 2,
  guidance: 2,
  temperature: 1,
  seed: 11,
  init: { source, keepRows },
  ...over,
});

describe("the source's codes", () => {
  it("are the image tokenizer's codes of the picture, row-major; the prefix is their first keepRows rows", async () => {
    const codes = await sourceCodes(plain.imageTokenizer, sources[0]);
    expect(codes).toHaveLength(64);
    const s = plain.imageTokenizer.config.imageSize;
    const raw = await sharp(sources[0]).raw().toBuffer();
    const want = tf.tidy(() =>
      plain.imageTokenizer
        .encode(
          tf.tensor4d(
            Float32Array.from(raw, (v) => v / 255),
            [1, s, s, 3],
          ),
        )
        .arraySync(),
    );
    expect([...codes]).toEqual(want[0].flat());
    expect([...(await primePrefix(plain.imageTokenizer, { source: sources[0], keepRows: 3 }))]).toEqual([...codes.slice(0, 24)]);
    // Two different pictures, two different prefixes (what the tests below rely on).
    expect([...(await sourceCodes(plain.imageTokenizer, sources[1])).slice(0, 32)]).not.toEqual([...codes.slice(0, 32)]);
  });

  it("leak no tensors", async () => {
    await sourceCodes(plain.imageTokenizer, sources[0]);
    const before = tf.memory().numTensors;
    await sourceCodes(plain.imageTokenizer, sources[1]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe.each(["onnx", "tfjs"] as const)("a primed job (%s)", (engine) => {
  it.each([
    ["without a CLIP", () => plain],
    ["reranked by CLIP (kept and rejected candidates alike)", () => ranked],
  ] as const)("starts every image with exactly the source's kept rows: %s", async (_, bundle) => {
    for (const keepRows of [1, 4, 7]) {
      const source = await sourceCodes(bundle().imageTokenizer, sources[0]);
      const r = await generateImages(bundle(), primed(sources[0], keepRows, { candidates: 4 }), { engine });
      expect(allCodes(r)).toHaveLength(bundle().clip ? 4 : 2);
      for (const codes of allCodes(r)) expect(codes.slice(0, keepRows * 8)).toEqual([...source.slice(0, keepRows * 8)]);
    }
  });

  it("is fed the kept rows: another source with the same seed completes differently", async () => {
    const [a, b] = await Promise.all(sources.map((s) => generateImages(plain, primed(s, 4, { n: 3 }), { engine })));
    const rest = (r: GenerateResult) => allCodes(r).map((c) => c.slice(32));
    expect(rest(a)).not.toEqual(rest(b));
  });

  it("batched with other jobs, gets exactly what it gets alone, and they theirs; its first partial shows the kept rows", async () => {
    const jobs: GenerateParams[] = [
      { prompt: "grinning cat, noto", n: 2, guidance: 1, temperature: 1, topK: 5, seed: 6 },
      primed(sources[1], 5, { topK: 6, guidance: 1.5 }),
      primed(sources[0], 2, { n: 1, temperature: 0.5, seed: 3 }),
    ];
    const record = (to: string[]) => (p: GenerateProgress) =>
      void to.push(`${p.done}:${p.partial?.map((i) => i.png.toString("base64")) ?? ""}`);
    const wanted = jobs.map(() => [] as string[]);
    const alone: GenerateResult[] = [];
    for (const [j, p] of jobs.entries())
      alone.push(await generateImages(plain, p, { engine, partialEvery: 16, onProgress: record(wanted[j]) }));
    const seen = jobs.map(() => [] as string[]);
    const together = (
      await generateBatch(
        plain,
        jobs.map((params, j) => ({ params, onProgress: record(seen[j]) })),
        { engine, partialEvery: 16 },
      )
    ).map(ok);
    together.forEach((r, j) => {
      expect(r.batch.jobs).toBe(3);
      expect(allCodes(r)).toEqual(allCodes(alone[j]));
      expect(r.images.map((i) => i.png.toString("base64"))).toEqual(alone[j].images.map((i) => i.png.toString("base64")));
      expect(seen[j]).toEqual(wanted[j]);
    });
    // The unprimed job's partials come at 16, 32, 48; a primed job's also with its first token: its kept rows.
    expect(seen[0].filter((s) => !s.endsWith(":")).map((s) => s.split(":")[0])).toEqual(["16", "32", "48"]);
    expect(seen[1].filter((s) => !s.endsWith(":")).map((s) => s.split(":")[0])).toEqual(["1", "16", "32", "48"]);
    // From the first token on, the grid holds the kept rows (5 of 8), given; nothing else is written yet (drawn as code 0).
    const kept = await primePrefix(plain.imageTokenizer, { source: sources[1], keepRows: 5 });
    const grid = Int32Array.from({ length: 64 }, (_, i) => (i < 40 ? kept[i] : -1));
    const want = (await codesToPngs(plain, [grid, grid])).map((p) => p.png.toString("base64"));
    expect(seen[1][0]).toBe(`1:${want.join(",")}`);
  });

  it("fails alone when its source does not decode or keeps every row, and leaks no tensors", async () => {
    await generateBatch(plain, [{ params: primed(sources[0], 3) }], { engine, partialEvery: 8 }); // warm-up
    const before = tf.memory().numTensors;
    const outcomes = await generateBatch(
      plain,
      [
        { params: primed(Buffer.from("not a png"), 3) },
        { params: primed(sources[0], 8) },
        { params: primed(new Uint8Array() as Buffer, 3) },
        { params: primed(sources[0], 3), onProgress: () => {} },
      ],
      { engine, partialEvery: 8 },
    );
    expect(outcomes[0].ok).toBe(false);
    expect(outcomes[1]).toMatchObject({
      ok: false,
      error: expect.objectContaining({ message: expect.stringMatching(/keepRows must be a whole number 1–7/) }),
    });
    expect(outcomes[2]).toMatchObject({
      ok: false,
      error: expect.objectContaining({ message: expect.stringMatching(/source picture is missing/) }),
    });
    expect(ok(outcomes[3]).batch.jobs).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("both engines", () => {
  it("complete a primed job alike for the same seed", async () => {
    for (const bundle of [plain, ranked]) {
      const p = primed(sources[1], 3, { n: 3, candidates: 5, seed: 21 });
      const [onnx, tfjs] = [await generateImages(bundle, p, { engine: "onnx" }), await generateImages(bundle, p, { engine: "tfjs" })];
      expect(allCodes(onnx)).toEqual(allCodes(tfjs));
    }
  });
});
