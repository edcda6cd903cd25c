// Reranking: the ranking on a hand-built case, the scores against CLIP's own score of the prompt, and no leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { selectBackend } from "../tensor/backend";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { rankByScore, rerank, scoreCandidates } from "./rerank";

let dir: string;
let bundle: ModelBundle;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-rerank-"));
  await writeTinyModelFolder(dir);
  await writeTinyClip(dir);
  bundle = await loadModelBundle(dir);
});
afterAll(() => {
  bundle?.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Five distinct 32×32 pictures in [0, 1]: a flat grey each, a different level. */
const pictures = () =>
  tf.tidy(() => tf.mul(tf.ones([5, 32, 32, 3]), tf.reshape(tf.tensor1d([0, 0.25, 0.5, 0.75, 1]), [5, 1, 1, 1])) as tf.Tensor4D);

describe("rerank", () => {
  it("keeps the n highest-scoring candidates, best first, and rejects the rest in score order", () => {
    const r = rankByScore([0.1, 0.9, -0.3, 0.5, 0.9, 0.2], 3);
    // Ties keep the earlier candidate first, so a ranking is reproducible.
    expect(r.kept).toEqual([
      { index: 1, score: 0.9 },
      { index: 4, score: 0.9 },
      { index: 3, score: 0.5 },
    ]);
    expect(r.rejected.map((c) => c.index)).toEqual([5, 0, 2]);
    expect(rankByScore([0.3], 1).kept).toEqual([{ index: 0, score: 0.3 }]);
    expect(() => rankByScore([0.1, 0.2], 3)).toThrow(/n must be 1–2/);
  });

  it("scores each candidate by CLIP's cosine with the prompt (not the <null> caption) and keeps the best", async () => {
    const clip = bundle.clip!;
    const c = clip.model.config;
    const pixels = pictures();
    const prompt = "red heart, twemoji";
    const ids = tf.tensor2d([clip.text.encode(prompt, c.textLen).ids], [1, c.textLen], "int32");
    const nullIds = tf.tensor2d([clip.text.encodeNull(c.textLen)], [1, c.textLen], "int32");
    const want = clip.model.score(ids, pixels); // [1, 5]
    const against = clip.model.score(nullIds, pixels);
    const expected = Array.from(await want.data());
    const unconditional = Array.from(await against.data());
    tf.dispose([ids, nullIds, want, against]);
    const r = await rerank(clip, prompt, pixels, 2);
    pixels.dispose();
    for (let i = 0; i < 5; i++) expect(r.scores[i]).toBeCloseTo(expected[i], 5);
    // The untrained CLIP still tells the prompt from the empty caption.
    expect(unconditional.some((s, i) => Math.abs(s - expected[i]) > 1e-4)).toBe(true);
    const best = expected.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]);
    expect(r.kept.map((k) => k.index)).toEqual([best[0][1], best[1][1]]);
    expect(r.rejected).toHaveLength(3);
    // Unit image embeddings, one per candidate.
    expect(r.embeddings).toHaveLength(5);
    expect(Math.hypot(...r.embeddings[0])).toBeCloseTo(1, 4);
    expect(r.embeddings[0]).toHaveLength(c.embedDim);
  });

  it("leaks no tensors", async () => {
    const pixels = pictures();
    const before = tf.memory().numTensors;
    await scoreCandidates(bundle.clip!, "grinning cat", pixels);
    await rerank(bundle.clip!, "grinning cat", pixels, 3);
    expect(tf.memory().numTensors).toBe(before);
    pixels.dispose();
  });
});
