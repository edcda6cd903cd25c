// What `npm run eval:flow` measures: does the flow's bits/dim tell real held-out emoji from images that are off the
// data? The off-data images are the same emoji with their pixels shuffled (every pixel keeps its colour, only the
// positions move): the same colour histogram, no picture. The score is the fraction of (real, shuffled) pairs the
// flow ranks right (real lower), i.e. the ROC AUC of bits/dim as a detector (Mann–Whitney U / n·m).
import { mulberry32, shuffleInPlace } from "../../lib/data/rng";
import { imageBytes, type Shard } from "../../lib/data/shard";

/** The shard with each image's pixels (RGB triplets kept together) in a random order of its own, from `seed`. */
export function shufflePixels(shard: Shard, seed: number): Shard {
  const rand = mulberry32(seed);
  const n = imageBytes(shard);
  const c = shard.channels;
  const pixels = shard.height * shard.width;
  const data = new Uint8Array(shard.data.length);
  const order = Array.from({ length: pixels }, (_, i) => i);
  for (let i = 0; i < shard.count; i++) {
    shuffleInPlace(order, rand);
    const src = shard.data.subarray(i * n, (i + 1) * n);
    const dst = data.subarray(i * n, (i + 1) * n);
    for (let p = 0; p < pixels; p++) dst.set(src.subarray(order[p] * c, order[p] * c + c), p * c);
  }
  return { ...shard, data };
}

/**
 * Fraction of pairs (a_i, b_j) with a_i < b_j, ties counted half: the AUC of "lower is typical" when a are the
 * typical images' scores and b the atypical ones'. O((n + m) log(n + m)) by ranking both together.
 */
export function pairsRankedRight(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const all = [...Array.from(a, (v) => ({ v, typical: true })), ...Array.from(b, (v) => ({ v, typical: false }))].sort((x, y) => x.v - y.v);
  // For each b_j: how many a_i lie strictly below it, plus half of those tied with it.
  let below = 0;
  let right = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    let tiedA = 0;
    let tiedB = 0;
    while (j < all.length && all[j].v === all[i].v) {
      if (all[j].typical) tiedA++;
      else tiedB++;
      j++;
    }
    right += tiedB * (below + tiedA / 2);
    below += tiedA;
    i = j;
  }
  return right / (a.length * b.length);
}

/** Fraction of i with a_i < b_i (each real image against its own shuffle). */
export function pairedRankedRight(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`pairedRankedRight: ${a.length} and ${b.length} scores`);
  let right = 0;
  for (let i = 0; i < a.length; i++) right += a[i] < b[i] ? 1 : a[i] === b[i] ? 0.5 : 0;
  return right / a.length;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return s / values.length;
}
