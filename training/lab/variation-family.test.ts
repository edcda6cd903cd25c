// variationFamily counts a variation as kept only when a reader names it as it names the source: a VAE whose
// "variations" are the source itself keeps every family, one that paints every variation the same grey keeps only
// the sources that happened to be named like that grey.
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { Clip } from "../../lib/model/clip";
import { DEFAULT_CLIP_CONFIG } from "../../lib/model/clip-config";
import type { VAE } from "../../lib/model/vae";
import { initBackend } from "../../lib/tensor/backend";
import { blobPictures } from "../../test/fixtures/blob-pictures";
import { flatten } from "../gpt/eval-sets";
import type { QualityJudges } from "./sample-quality";
import { variationFamily } from "./variation-family";

const S = 32;
const shard = (n: number, seed: number): Shard => ({ count: n, height: S, width: S, channels: 3, data: blobPictures(n, S, seed) });
const LABELS = ["cat", "dog: light skin tone", "dog", "sun", "moon", "star"];

let judges: QualityJudges;
beforeAll(async () => {
  await initBackend();
  const train = shard(24, 1);
  const clip = new Clip(
    {
      ...DEFAULT_CLIP_CONFIG,
      imageWidths: [4, 8, 8],
      resBlocks: 1,
      textVocab: 16,
      textLen: 4,
      nLayer: 1,
      nHead: 2,
      nEmbd: 16,
      embedDim: 16,
    },
    5,
  );
  const flat = flatten(train);
  judges = {
    flow: undefined as never,
    threshold: 0,
    clip,
    labelEmbeddings: tf.tidy(() => tf.div(tf.randomNormal([LABELS.length, 16], 0, 1, "float32", 2), 4)) as tf.Tensor2D,
    labels: LABELS,
    trainT: tf.transpose(flat) as tf.Tensor2D,
    trainSq: tf.sum(tf.square(flat), 1) as tf.Tensor1D,
    trainRecords: Array.from({ length: 24 }, (_, i): CaptionRecord => ({
      split: "train",
      index: i,
      caption: `${LABELS[i % 6]}, noto`,
      meta: { label: LABELS[i % 6], style: "noto" },
    })),
  };
  flat.dispose();
});

/** A stand-in with the VAE's variations(): `draw` makes the k pictures from the source. */
const fake = (draw: (x: tf.Tensor4D, k: number) => tf.Tensor4D) =>
  ({ variations: (x: tf.Tensor4D, k: number) => draw(x, k) }) as unknown as VAE;

describe("variationFamily", () => {
  it("keeps every family when the variations are the source", async () => {
    const r = await variationFamily(
      fake((x, k) => tf.tile(x, [k, 1, 1, 1])),
      shard(10, 9),
      judges,
      { sources: 10, k: 3, scale: 1, seed: 1 },
    );
    expect(r).toMatchObject({ sources: 10, k: 3, keepsFamilyPixels: 1, keepsFamilyClip: 1 });
  });

  it("keeps few when every variation is the same grey, and leaks no tensors", async () => {
    const before = tf.memory().numTensors;
    const r = await variationFamily(
      fake((_, k) => tf.fill([k, S, S, 3], 0.5)),
      shard(10, 9),
      judges,
      { sources: 10, k: 3, scale: 1, seed: 1 },
    );
    expect(r.keepsFamilyPixels).toBeLessThan(0.6);
    expect(r.keepsFamilyPixels + r.keepsFamilyClip).toBeLessThan(1.6);
    expect(tf.memory().numTensors).toBe(before);
  });
});
