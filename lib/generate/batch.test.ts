// Several jobs in one sampling pass, against a real tiny model folder (its transformer's weights scrambled so that
// logits matter) with a tiny CLIP: on both engines each job gets the PNG bytes, scores and progress it gets alone
// with the same seed, and a job that fails or stops does so alone.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { scrambleWeights } from "../../test/fixtures/tiny-transformer";
import { releaseOnnxDecoder } from "../model/onnx/decoder-session";
import { selectBackend } from "../tensor/backend";
import { generateBatch, type BatchOutcome } from "./batch";
import { generateImages, type GenerateParams, type GenerateProgress, type GenerateResult } from "./generate";
import { loadModelBundle, type ModelBundle } from "./model-bundle";

let dir: string;
let plain: ModelBundle;
let ranked: ModelBundle;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-batch-"));
  await writeTinyModelFolder(path.join(dir, "plain"));
  await writeTinyModelFolder(path.join(dir, "ranked"));
  await writeTinyClip(path.join(dir, "ranked"));
  plain = await loadModelBundle(path.join(dir, "plain"));
  ranked = await loadModelBundle(path.join(dir, "ranked"));
  scrambleWeights(plain.transformer, 800);
  scrambleWeights(ranked.transformer, 900);
});
afterAll(async () => {
  for (const b of [plain, ranked]) {
    if (!b) continue;
    await releaseOnnxDecoder(b.transformer);
    b.dispose();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

const jobs: GenerateParams[] = [
  { prompt: "red heart, twemoji", n: 2, guidance: 2.5, temperature: 0.7, seed: 5 },
  { prompt: "grinning cat, noto", n: 3, guidance: 1, temperature: 1, topK: 5, seed: 6 },
  { prompt: "waving hand", n: 1, candidates: 3, guidance: 1.5, temperature: 0.3, topP: 0.9, seed: 7 },
];

const ok = (o: BatchOutcome): GenerateResult => {
  if (!o.ok) throw o.error;
  return o.result;
};
const pngs = (r: GenerateResult) => [...r.images, ...r.rejected].map((i) => i.png.toString("base64"));

describe.each(["onnx", "tfjs"] as const)("generateBatch (%s)", (engine) => {
  it.each([
    ["without a CLIP", () => plain, 6],
    ["reranked by CLIP", () => ranked, 8],
  ] as const)("gives each job exactly the images and scores it gets alone: %s", async (_, bundle, rows) => {
    const record = (to: string[]) => (p: GenerateProgress) =>
      void to.push(`${p.done}/${p.total}:${p.partial?.map((i) => i.png.toString("base64")) ?? ""}`);
    const alone: GenerateResult[] = [];
    const wanted = jobs.map(() => [] as string[]);
    for (const [j, p] of jobs.entries())
      alone.push(await generateImages(bundle(), p, { engine, partialEvery: 16, onProgress: record(wanted[j]) }));
    const seen = jobs.map(() => [] as string[]);
    const outcomes = await generateBatch(
      bundle(),
      jobs.map((params, j) => ({ params, onProgress: record(seen[j]) })),
      { engine, partialEvery: 16 },
    );
    outcomes.map(ok).forEach((r, j) => {
      expect(r.batch).toEqual({ jobs: 3, rows });
      expect(alone[j].batch).toEqual({ jobs: 1, rows: rows === 6 ? jobs[j].n : (jobs[j].candidates ?? jobs[j].n) });
      expect(pngs(r)).toEqual(pngs(alone[j]));
      expect(r.images.map((i) => i.score)).toEqual(alone[j].images.map((i) => i.score));
      expect(r.codes.map((c) => [...c])).toEqual(alone[j].codes.map((c) => [...c]));
      expect(r.candidates).toBe(alone[j].candidates);
      // Every token reported, with the job's own partial pictures (its first n candidates) at 16, 32 and 48.
      expect(seen[j]).toEqual(wanted[j]);
      expect(seen[j]).toHaveLength(64);
      expect(seen[j].filter((s) => !s.endsWith(":")).length).toBe(3);
    });
    expect(outcomes.map(ok)[2].rejected).toHaveLength(bundle().clip ? 2 : 0);
  });

  it("fails a bad job alone and stops a job whose progress callback throws, the others unharmed", async () => {
    const want = await generateImages(plain, jobs[1], { engine });
    let calls = 0;
    const outcomes = await generateBatch(
      plain,
      [
        { params: { ...jobs[0], candidates: 1 } },
        { params: jobs[1] },
        {
          params: jobs[2],
          onProgress: (p) => {
            calls++;
            if (p.done === 10) throw new Error("lease lost (planted)");
          },
        },
      ],
      { engine },
    );
    expect(outcomes[0]).toMatchObject({ ok: false, error: expect.objectContaining({ message: expect.stringMatching(/candidates/) }) });
    expect(outcomes[2]).toMatchObject({ ok: false, error: expect.objectContaining({ message: "lease lost (planted)" }) });
    expect(calls).toBe(10);
    expect(pngs(ok(outcomes[1]))).toEqual(pngs(want));
    expect(ok(outcomes[1]).batch).toEqual({ jobs: 2, rows: 4 });
  });

  it("abandons the pass once every job has stopped, and leaks no tensors", async () => {
    await generateBatch(
      ranked,
      jobs.map((params) => ({ params })),
      { engine, partialEvery: 8 },
    ); // warm-up
    const before = tf.memory().numTensors;
    let tokens = 0;
    const stop = () => {
      if (++tokens === 4) throw new Error("stopped");
    };
    const outcomes = await generateBatch(ranked, [{ params: jobs[0], onProgress: stop }], { engine, partialEvery: 8 });
    expect(tokens).toBe(4);
    expect(outcomes[0].ok).toBe(false);
    await generateBatch(
      ranked,
      jobs.map((params) => ({ params, onProgress: () => {} })),
      { engine, partialEvery: 8 },
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
