// Zero-shot scoring helpers and CLIP's caption variants: nearest prompts, ranks and recall on hand-made unit
// vectors; the fourth caption variant (keywords without a style).
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import { selectBackend } from "../../lib/tensor/backend";
import { CLIP_VARIANT_PROBS, clipCaptionVariants } from "./augment";
import { ensemble, ranksOf, recallAt, topMatches } from "./zero-shot";

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
});

const rec = (label: string, style: string, tags: string[]): CaptionRecord => ({
  split: "train",
  index: 4,
  caption: `${label}, ${style}`,
  meta: { label, style, tags },
});

describe("zero-shot helpers", () => {
  it("ranks keys by cosine similarity: top matches, the rank of each query's own key, recall@k", () => {
    const s = Math.SQRT1_2;
    const keys = tf.tensor2d([1, 0, 0, 1, s, s], [3, 2]); // east, north, north-east
    const queries = tf.tensor2d([0.96, 0.28, 0, 1, -1, 0], [3, 2]);
    // West's best are north (0) and north-east (−0.71), ahead of east (−1).
    expect(topMatches(queries, keys, 2).map((t) => [...t])).toEqual([
      [0, 2],
      [1, 2],
      [1, 2],
    ]);
    // Query 0's own key is 0 (rank 0); query 1's own key 2 is beaten by north (rank 1); query 2's own key 0 is last.
    const ranks = ranksOf(queries, keys, [0, 2, 0]);
    expect([...ranks]).toEqual([0, 1, 2]);
    expect(recallAt(ranks, 1)).toBeCloseTo(1 / 3, 6);
    expect(recallAt(ranks, 2)).toBeCloseTo(2 / 3, 6);
    expect(recallAt(ranks, 2, (i) => i > 0)).toBeCloseTo(1 / 2, 6);
    tf.dispose([keys, queries]);
  });

  it("ensembles prompt embeddings into unit vectors", () => {
    const parts = [tf.tensor2d([1, 0], [1, 2]), tf.tensor2d([0, 1], [1, 2])];
    const e = ensemble(parts);
    const [x, y] = e.dataSync();
    expect(x).toBeCloseTo(Math.SQRT1_2, 5);
    expect(y).toBeCloseTo(Math.SQRT1_2, 5);
    tf.dispose([e, ...parts]);
  });
});

describe("CLIP caption variants", () => {
  it("adds the keywords without a style to the transformer's three variants", () => {
    const v = clipCaptionVariants(rec("grinning face", "noto", ["happy", "smile", "grin"]));
    expect(v).toHaveLength(CLIP_VARIANT_PROBS.length);
    expect(v.slice(0, 2)).toEqual(["grinning face, noto", "grinning face"]);
    expect(v[2]).toMatch(/, noto$/);
    expect(v[3]).toBe(v[2].replace(/, noto$/, ""));
    expect(CLIP_VARIANT_PROBS.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  });

  it("falls back to the label when an emoji has no keywords", () => {
    expect(clipCaptionVariants(rec("regional indicator A", "noto", []))).toEqual([
      "regional indicator A, noto",
      "regional indicator A",
      "regional indicator A, noto",
      "regional indicator A",
    ]);
  });
});
