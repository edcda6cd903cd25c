// Sample quality of the lab's generative models, in the three measures issue 19 asks for, on any set of 32×32
// images (prior samples, reconstructions, real held-out emoji as the reference, pixel-Gaussian samples as the floor):
//   - bits/dim under the Real-NVP (lib/model/flow.ts, as the app scores typicality), and the share flagged as far
//     off the data (above the flow's 99th-percentile threshold);
//   - CLIP score: 100 × the cosine between an image's CLIP embedding and its best label prompt (the prompt
//     ensemble of eval:clip over all labels of the corpus): how much the image looks like *some* emoji;
//   - label retrieval: two independent readers name the image — CLIP's zero-shot top labels, and the label of its
//     nearest training image in pixel space — and we count how often they agree (top-1 exact; family, skin tone
//     stripped, within CLIP's top 5). A recognisable picture is named the same by both; a blob gets two unrelated
//     names (chance is the share of the corpus a label covers).
import * as tf from "@tensorflow/tfjs";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import type { Clip } from "../../lib/model/clip";
import type { RealNVP } from "../../lib/model/flow";
import { embedImages, topMatches } from "../clip/zero-shot";
import { flatten, labelOf, mean, score, topK, zeroScores, type Scores } from "../gpt/eval-sets";
import { shardBitsPerDim } from "./flow-task";

export interface QualityRow {
  images: number;
  bitsPerDim: number;
  /** Share of images above the flow's typicality threshold. */
  atypical: number;
  clipScore: number;
  /** CLIP's labels scored against the nearest training image's label (exact1 … family5). */
  labelRetrieval: Scores;
}

/** What every row is scored against, built once. */
export interface QualityJudges {
  flow: RealNVP;
  threshold: number;
  clip: Clip;
  /** Unit prompt embeddings of `labels`, [L, D]. */
  labelEmbeddings: tf.Tensor2D;
  labels: readonly string[];
  /** The training images as pixel rows transposed, [D, M], their squared norms [M], and their caption records. */
  trainT: tf.Tensor2D;
  trainSq: tf.Tensor1D;
  trainRecords: readonly CaptionRecord[];
}

/** Images [N, S, S, C] in [0, 1] → a uint8 shard (rounded as the app's PNGs are). */
export async function shardOf(images: tf.Tensor4D): Promise<Shard> {
  const [count, height, width, channels] = images.shape;
  const u8 = tf.tidy(() => tf.cast(tf.round(tf.mul(tf.clipByValue(images, 0, 1), 255)), "int32"));
  try {
    return { count, height, width, channels, data: Uint8Array.from(await u8.data()) };
  } finally {
    u8.dispose();
  }
}

export async function sampleQuality(j: QualityJudges, shard: Shard, batch = 256): Promise<QualityRow> {
  const bpd = await shardBitsPerDim(j.flow, shard);
  const emb = embedImages(j.clip, shard, undefined, batch); // [N, D] unit
  const retrieval = zeroScores();
  let clipSum = 0;
  try {
    const best = tf.tidy(() => tf.max(tf.matMul(emb, j.labelEmbeddings, false, true), 1)); // [N]
    clipSum = Array.from(await best.data()).reduce((a, b) => a + b, 0);
    best.dispose();
    const clipTop = topMatches(emb, j.labelEmbeddings, 5);
    const dims = shard.height * shard.width * shard.channels;
    for (let s = 0; s < shard.count; s += batch) {
      const n = Math.min(batch, shard.count - s);
      const q = flatten({ ...shard, count: n, data: shard.data.subarray(s * dims, (s + n) * dims) }); // [n, D] in [0, 1]
      const nn = topK(q, j.trainT, j.trainSq, 1);
      q.dispose();
      nn.forEach((near, k) => score(retrieval, clipTop[s + k], j.labels, labelOf(j.trainRecords[near[0]])));
    }
  } finally {
    emb.dispose();
  }
  return {
    images: shard.count,
    bitsPerDim: bpd.reduce((a, b) => a + b, 0) / bpd.length,
    atypical: bpd.filter((b) => b > j.threshold).length / bpd.length,
    clipScore: (100 * clipSum) / shard.count,
    labelRetrieval: mean(retrieval, shard.count),
  };
}
