// The prompts the transformer is judged on, and how a picture is scored. Two seeded, stratified sets: held-out
// test captions (a (label, style) pair never seen in training) and in-distribution train captions, each drawn
// round-robin over the four styles and over plain labels vs skin-tone variants, so neither noto nor the 52 % of
// skin-tone variants dominate. A generated image is scored by its nearest real images (32×32 RGB pixel space,
// the whole corpus): exact label and label family (skin tone stripped), at 1 and at 5 neighbours.
import * as tf from "@tensorflow/tfjs";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { mulberry32, shuffleInPlace } from "../../lib/data/rng";
import { labelFamily } from "./augment";

export const labelOf = (r: CaptionRecord) => String(r.meta.label ?? r.caption);
export const styleOf = (r: CaptionRecord) => String(r.meta.style ?? "");

/** `count` records drawn round-robin over (style, skin tone or not) strata, each stratum shuffled with `seed`. */
export function stratifiedPrompts(records: readonly CaptionRecord[], count: number, seed: number): CaptionRecord[] {
  const strata = new Map<string, CaptionRecord[]>();
  for (const r of records) {
    const key = `${styleOf(r)}|${labelOf(r).includes("skin tone") ? "tone" : "plain"}`;
    if (!strata.has(key)) strata.set(key, []);
    strata.get(key)!.push(r);
  }
  const rand = mulberry32(seed);
  // Plain labels first in each round: they are the more varied half of the corpus.
  const keys = [...strata.keys()].sort((a, b) =>
    a.endsWith("plain") === b.endsWith("plain") ? (a < b ? -1 : 1) : a.endsWith("plain") ? -1 : 1,
  );
  const queues = keys.map((k) => shuffleInPlace([...strata.get(k)!], rand));
  const out: CaptionRecord[] = [];
  const seen = new Set<string>();
  for (let round = 0; out.length < count && queues.some((q) => q.length); round++) {
    for (const q of queues) {
      while (q.length && out.length < count) {
        const r = q.shift()!;
        if (seen.has(r.caption)) continue;
        seen.add(r.caption);
        out.push(r);
        break;
      }
    }
  }
  return out;
}

export interface Scores {
  exact1: number;
  exact5: number;
  family1: number;
  family5: number;
}

export const zeroScores = (): Scores => ({ exact1: 0, exact5: 0, family1: 0, family5: 0 });

/**
 * Indices of the k nearest corpus images (squared pixel error), nearest first, for each query; queries [Q, D],
 * corpusT [D, M]: ‖q‖² − 2·q·cᵀ + ‖c‖² with the corpus transposed once (plain matMuls are the fast path on wasm).
 */
export function topK(queries: tf.Tensor2D, corpusT: tf.Tensor2D, corpusSq: tf.Tensor1D, k: number): Int32Array[] {
  return tf.tidy(() => {
    const qq = tf.sum(tf.square(queries), 1, true); // [Q, 1]
    const negD = tf.neg(tf.add(tf.sub(qq, tf.mul(tf.matMul(queries, corpusT), 2)), corpusSq)); // [Q, M]
    const { indices } = tf.topk(negD, k);
    const flat = indices.dataSync() as Int32Array;
    return Array.from({ length: queries.shape[0] }, (_, q) => flat.slice(q * k, (q + 1) * k));
  });
}

/** A shard's images as rows of pixels in [0, 1]: [N, H·W·C], the retrieval space. */
export function flatten(shard: Shard): tf.Tensor2D {
  return tf.tidy(
    () => tf.div(tf.tensor2d(shard.data, [shard.count, shard.height * shard.width * shard.channels], "float32"), 255) as tf.Tensor2D,
  );
}

/** Adds one image's hits (its 5 neighbours' labels against the prompt's) to `s`. */
export function score(s: Scores, neighbours: ArrayLike<number>, labels: readonly string[], label: string): void {
  const family = labelFamily(label);
  const ids = Array.from(neighbours);
  if (labels[ids[0]] === label) s.exact1++;
  if (ids.some((i) => labels[i] === label)) s.exact5++;
  if (labelFamily(labels[ids[0]]) === family) s.family1++;
  if (ids.some((i) => labelFamily(labels[i]) === family)) s.family5++;
}

export function mean(s: Scores, n: number): Scores {
  return { exact1: s.exact1 / n, exact5: s.exact5 / n, family1: s.family1 / n, family5: s.family5 / n };
}

/** What a random corpus image would score for these prompts (the share of the corpus carrying each label). */
export function chance(prompts: readonly CaptionRecord[], labels: readonly string[]): Scores {
  const exact = new Map<string, number>();
  const fam = new Map<string, number>();
  for (const l of labels) {
    exact.set(l, (exact.get(l) ?? 0) + 1);
    fam.set(labelFamily(l), (fam.get(labelFamily(l)) ?? 0) + 1);
  }
  const s = zeroScores();
  for (const p of prompts) {
    const pe = (exact.get(labelOf(p)) ?? 0) / labels.length;
    const pf = (fam.get(labelFamily(labelOf(p))) ?? 0) / labels.length;
    s.exact1 += pe;
    s.exact5 += 1 - (1 - pe) ** 5;
    s.family1 += pf;
    s.family5 += 1 - (1 - pf) ** 5;
  }
  return mean(s, prompts.length);
}
