// Variety of the pictures one request returns (issue 29, part 3). A person asking for four pictures expects four
// different ones, and accuracy alone rewards the opposite: a cool temperature that draws the same most likely
// picture four times scores as well as four good different ones. So every sampling setting is also measured by
// how far apart the n pictures of one prompt are, and the defaults are chosen among settings that keep them apart.
//
// Definitions, over the n ≥ 2 pictures generated for one prompt, each as H·W·3 grey levels 0–255 (rounded and
// clipped as the server's PNGs are, lib/generate/batch.ts):
// - pair distance of two pictures: the mean absolute difference over all H·W·3 values (not RMSE), in grey levels —
//   lib/generate/distinct.ts, the one definition the server's rerank also keeps its pictures apart by;
// - a prompt's pair distance: the mean over its n·(n−1)/2 unordered pairs of distinct pictures;
// - a prompt is a near-copy when every pair is within NEAR_COPY_LEVELS (its largest pair distance ≤ 8);
// - its distinct labels: how many different labels the n pictures' nearest real images carry (1 to n).
// A setting's Variety averages these over prompts (near-copy share = near-copy prompts / prompts).
import type * as tf from "@tensorflow/tfjs";
import { NEAR_COPY_LEVELS, pairDistance, toLevels } from "../../lib/generate/distinct";

export interface Variety {
  /** Mean over prompts of the mean pairwise distance (grey levels, mean absolute difference). */
  pairDistance: number;
  /** Share of prompts whose pictures are all within NEAR_COPY_LEVELS of each other. */
  nearCopyShare: number;
  /** Mean over prompts of the number of distinct labels among the pictures' nearest real images. */
  distinctLabels: number;
  prompts: number;
}

export interface GroupVariety {
  pairDistance: number;
  maxPairDistance: number;
  nearCopy: boolean;
  distinctLabels: number;
}

/** One prompt's pictures and the labels of their nearest real images (same order). */
export function groupVariety(pictures: readonly ArrayLike<number>[], nearestLabels: readonly string[]): GroupVariety {
  if (pictures.length < 2) throw new Error(`variety needs at least 2 pictures per prompt, got ${pictures.length}`);
  if (nearestLabels.length !== pictures.length) throw new Error(`${pictures.length} pictures but ${nearestLabels.length} labels`);
  let sum = 0;
  let max = 0;
  let pairs = 0;
  for (let i = 0; i < pictures.length; i++)
    for (let j = i + 1; j < pictures.length; j++) {
      const d = pairDistance(pictures[i], pictures[j]);
      sum += d;
      max = Math.max(max, d);
      pairs++;
    }
  return {
    pairDistance: sum / pairs,
    maxPairDistance: max,
    nearCopy: max <= NEAR_COPY_LEVELS,
    distinctLabels: new Set(nearestLabels).size,
  };
}

/** Sums GroupVariety over prompts; `result()` is the setting's Variety. */
export class VarietyTally {
  private sum = { pairDistance: 0, nearCopies: 0, distinctLabels: 0, prompts: 0 };

  add(pictures: readonly ArrayLike<number>[], nearestLabels: readonly string[]): GroupVariety {
    const g = groupVariety(pictures, nearestLabels);
    this.sum.pairDistance += g.pairDistance;
    this.sum.nearCopies += g.nearCopy ? 1 : 0;
    this.sum.distinctLabels += g.distinctLabels;
    this.sum.prompts++;
    return g;
  }

  result(): Variety {
    const p = this.sum.prompts;
    if (!p) return { pairDistance: NaN, nearCopyShare: NaN, distinctLabels: NaN, prompts: 0 };
    return {
      pairDistance: this.sum.pairDistance / p,
      nearCopyShare: this.sum.nearCopies / p,
      distinctLabels: this.sum.distinctLabels / p,
      prompts: p,
    };
  }
}

/**
 * Adds each prompt's group to `tally`: `pixels` [P·n, D] in [0, 1] prompt-major (n pictures per prompt, as the batch
 * samplers return them) and `neighbours` their nearest real images (index 0 the nearest) in the same order.
 */
export function tallyGroups(
  tally: VarietyTally,
  pixels: tf.Tensor2D,
  neighbours: readonly ArrayLike<number>[],
  labels: readonly string[],
  n: number,
): void {
  const rows = toLevels(pixels);
  if (rows.length % n || neighbours.length !== rows.length)
    throw new Error(`${rows.length} pictures, ${neighbours.length} neighbour lists, ${n} per prompt`);
  for (let p = 0; p < rows.length; p += n)
    tally.add(
      rows.slice(p, p + n),
      neighbours.slice(p, p + n).map((nb) => labels[nb[0]]),
    );
}

/** Several sets' Variety as one, each weighted by its prompts. */
export function pooled(parts: readonly Variety[]): Variety {
  const prompts = parts.reduce((a, v) => a + v.prompts, 0);
  const w = (key: "pairDistance" | "nearCopyShare" | "distinctLabels") =>
    parts.reduce((a, v) => a + (v.prompts ? v[key] * v.prompts : 0), 0) / prompts;
  return { pairDistance: w("pairDistance"), nearCopyShare: w("nearCopyShare"), distinctLabels: w("distinctLabels"), prompts };
}

/** A Variety as table columns: pair distance (levels), near-copy %, distinct labels. */
export const varietyColumns = (v: Variety) =>
  `${v.pairDistance.toFixed(1).padStart(5)} ${(100 * v.nearCopyShare).toFixed(1).padStart(5)} ${v.distinctLabels.toFixed(2).padStart(5)}`;
