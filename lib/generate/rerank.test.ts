// Reranking: the ranking on hand-built cases (by score, and kept apart), the scores against CLIP's own score of the
// prompt, the server's rerank keeping a near-copy of its best out, and no leaks.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyClip } from "../../test/fixtures/tiny-clip";
import { writeTinyModelFolder } from "../../test/fixtures/tiny-model";
import { selectBackend } from "../tensor/backend";
import { NEAR_COPY_LEVELS } from "./distinct";
import { loadModelBundle, type ModelBundle } from "./model-bundle";
import { KEEP_APART_LEVELS, rankApart, rankByScore, rerank, scoreCandidates } from "./rerank";

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

/** A flat picture of `level` grey levels, as rankApart compares them (4×4 RGB: the size does not matter). */
const solid = (level: number) => new Float32Array(4 * 4 * 3).fill(level);

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

  it("keeping apart: prefers a distinct picture over a higher-scoring near-copy of one already kept", () => {
    // 1 is 4 levels from 0, the best: passed over for 2, 50 levels away, though it scores higher.
    const r = rankApart([0.9, 0.8, 0.7, 0.1], [solid(100), solid(104), solid(150), solid(30)], 2);
    expect(r.kept).toEqual([
      { index: 0, score: 0.9 },
      { index: 2, score: 0.7 },
    ]);
    expect(r.rejected.map((c) => c.index)).toEqual([1, 3]);
  });

  it("keeping apart: each new picture is compared with every picture kept so far, not only the best", () => {
    // 2 is 24 levels from 0 but 4 from 1, which is kept: passed over for 3.
    const r = rankApart([0.9, 0.8, 0.7, 0.6], [solid(0), solid(20), solid(24), solid(50)], 3);
    expect(r.kept.map((c) => c.index)).toEqual([0, 1, 3]);
  });

  it("keeping apart: when all are near-copies, the top n by score, as by score alone", () => {
    const scores = [0.2, 0.9, 0.5, 0.7, 0.1];
    const pictures = [solid(100), solid(101), solid(103), solid(105), solid(108)];
    expect(rankApart(scores, pictures, 3)).toEqual(rankByScore(scores, 3));
    expect(rankApart(scores, pictures, 3).kept.map((c) => c.index)).toEqual([1, 3, 2]);
  });

  it("keeping apart: too few far enough apart fill up with the best of the rest, kept highest score first", () => {
    // 0 and 2 are apart; 1, 3 and 4 are each within 8 levels of one of them. The place left goes to 1, the best of
    // those, and lands before 2, which it outscores.
    const r = rankApart([0.9, 0.8, 0.7, 0.6, 0.5], [solid(0), solid(3), solid(100), solid(5), solid(102)], 3);
    expect(r.kept).toEqual([
      { index: 0, score: 0.9 },
      { index: 1, score: 0.8 },
      { index: 2, score: 0.7 },
    ]);
    expect(r.rejected.map((c) => c.index)).toEqual([3, 4]);
  });

  it("keeping apart: more than the threshold, exclusive; the threshold can be given", () => {
    expect(KEEP_APART_LEVELS).toBeGreaterThanOrEqual(NEAR_COPY_LEVELS);
    const pictures = [solid(0), solid(KEEP_APART_LEVELS), solid(KEEP_APART_LEVELS + 1)];
    // Exactly the threshold away is too close.
    expect(rankApart([0.9, 0.8, 0.7], pictures, 2).kept.map((c) => c.index)).toEqual([0, 2]);
    // Nothing is 2·threshold + 2 away: the fill keeps the best by score.
    expect(rankApart([0.9, 0.8, 0.7], pictures, 2, 2 * KEEP_APART_LEVELS + 2).kept.map((c) => c.index)).toEqual([0, 1]);
    // Ties keep the earlier candidate first; n must fit; one picture per score.
    expect(rankApart([0.5, 0.5, 0.5], [solid(0), solid(0), solid(50)], 2).kept.map((c) => c.index)).toEqual([0, 2]);
    expect(() => rankApart([0.1, 0.2], [solid(0), solid(50)], 3)).toThrow(/n must be 1–2/);
    expect(() => rankApart([0.1, 0.2], [solid(0)], 1)).toThrow(/2 scores but 1 pictures/);
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

  it("keeps a near-copy of its best candidate out when a distinct one is left (the server's rerank)", async () => {
    const clip = bundle.clip!;
    const five = pictures();
    const { scores } = await scoreCandidates(clip, "red heart, twemoji", five);
    const best = rankByScore(scores, 5).kept[0].index;
    // A sixth candidate, a copy of the best: CLIP scores it as the best, so by score alone both would be kept.
    const copy = tf.slice(five, [best, 0, 0, 0], [1, 32, 32, 3]);
    const six = tf.concat([five, copy]);
    const r = await rerank(clip, "red heart, twemoji", six, 2);
    tf.dispose([five, copy, six]);
    // Premise: by score alone the two kept would be the best and its copy (a tie: the earlier first).
    expect(rankByScore(r.scores, 2).kept.map((k) => k.index)).toEqual([best, 5]);
    const third = rankByScore(r.scores, 3).kept[2].index;
    expect(r.kept.map((k) => k.index)).toEqual([best, third]);
    expect(r.rejected[0].index).toBe(5);
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
