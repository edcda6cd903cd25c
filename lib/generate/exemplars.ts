// Reranking by exemplars (issue 29, part 3): the training pictures as a second opinion beside CLIP's. CLIP's cosine
// reads a generated picture through an encoder trained on real emoji only, and within the same 16 candidates it keeps
// far fewer recognisable pictures than an oracle could (stop 46: 44 % held-out family@1 against 56 %). A server also
// knows the pictures the transformer was trained on, so it can ask of each candidate what a person would: which
// training picture does this look like, and is that picture captioned like the prompt? The vote of a candidate is
// the mean cosine (CLIP's text embeddings) between the prompt and the captions of its `m` nearest training pictures
// (squared difference of RGB levels, both shrunk to the bank's side); the ranking mixes the two opinions as
// standardised scores over the candidates, z(CLIP) + weight·z(vote) (Ramesh et al. 2021 rank by CLIP alone; this is
// the nearest-neighbour classifier of the pictures, a kNN vote, beside it).
// NOTE: the bank holds training pictures only (never val or test), so a held-out prompt's own picture never votes;
// a prompt that *is* a training caption finds its own picture, which is retrieval, not generalisation — the eval
// reports held-out and train prompts apart for that reason. It also judges pictures by their nearest real images in
// pixel space, as the vote does: the held-out gain is the one that does not lean on that.

export interface ExemplarBank {
  /** Number of pictures. */
  count: number;
  /** Their captions, in picture order. */
  captions: readonly string[];
  /** Their pictures as RGB levels 0–255, [count, side, side, 3] row-major. */
  pictures: Uint8Array;
  /** Side of the bank's pictures (the generated pictures are shrunk to it: shrink). */
  side: number;
}

/** Checks a bank's arrays agree with its counts (a bank read from disk is checked before it is trusted). */
export function checkBank(bank: ExemplarBank): ExemplarBank {
  const { count, side } = bank;
  if (!Number.isInteger(count) || count < 1) throw new Error(`exemplar bank: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(side) || side < 1) throw new Error(`exemplar bank: side must be a positive integer, got ${side}`);
  if (bank.captions.length !== count) throw new Error(`exemplar bank: ${bank.captions.length} captions for ${count} pictures`);
  if (bank.pictures.length !== count * side * side * 3)
    throw new Error(`exemplar bank: ${bank.pictures.length} picture bytes, expected ${count} × ${side}×${side}×3`);
  return bank;
}

/**
 * A picture of `from`×`from`×3 levels (HWC) shrunk to `to`×`to`×3 by the mean of each block (from a multiple of to),
 * rounded to whole levels as a stored picture is.
 */
export function shrink(levels: ArrayLike<number>, from: number, to: number): Uint8Array {
  if (levels.length !== from * from * 3) throw new Error(`shrink: ${levels.length} levels is not ${from}×${from}×3`);
  if (!Number.isInteger(to) || to < 1 || from % to !== 0) throw new Error(`shrink: ${from} is not a multiple of ${to}`);
  const f = from / to;
  const out = new Uint8Array(to * to * 3);
  for (let y = 0; y < to; y++)
    for (let x = 0; x < to; x++)
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) sum += levels[((y * f + dy) * from + x * f + dx) * 3 + c];
        out[(y * to + x) * 3 + c] = Math.min(255, Math.max(0, Math.round(sum / (f * f))));
      }
  return out;
}

/**
 * The `m` bank pictures nearest each candidate (squared difference of levels; candidates at the bank's side),
 * nearest first. Ties: the earlier picture first.
 */
export function nearestPictures(bank: ExemplarBank, candidates: readonly ArrayLike<number>[], m: number): number[][] {
  if (!Number.isInteger(m) || m < 1) throw new Error(`nearestPictures: m must be a positive integer, got ${m}`);
  const size = bank.side * bank.side * 3;
  return candidates.map((c) => {
    if (c.length !== size) throw new Error(`nearestPictures: a candidate of ${c.length} levels, the bank's pictures have ${size}`);
    const best: { id: number; d: number }[] = []; // the m nearest so far, nearest first
    for (let id = 0; id < bank.count; id++) {
      const bound = best.length < m ? Infinity : best[best.length - 1].d;
      const row = id * size;
      let d = 0;
      // Stop adding as soon as this picture cannot be among the m nearest: most of the bank is far.
      for (let j = 0; j < size && d < bound; j++) {
        const x = c[j] - bank.pictures[row + j];
        d += x * x;
      }
      if (d >= bound) continue;
      let at = best.length;
      while (at > 0 && best[at - 1].d > d) at--;
      best.splice(at, 0, { id, d });
      if (best.length > m) best.pop();
    }
    return best.map((b) => b.id);
  });
}

/**
 * Each candidate's vote: the mean cosine between the prompt (a unit embedding) and the captions of its nearest bank
 * pictures — `embeddingOf(id)` gives picture id's caption embedding (unit, the prompt's length).
 */
export function voteScores(
  prompt: ArrayLike<number>,
  neighbours: readonly (readonly number[])[],
  embeddingOf: (id: number) => ArrayLike<number>,
): Float32Array {
  return Float32Array.from(neighbours, (ids) => {
    if (!ids.length) throw new Error("voteScores: a candidate without neighbours");
    let sum = 0;
    for (const id of ids) {
      const e = embeddingOf(id);
      if (e.length !== prompt.length) throw new Error(`voteScores: caption embedding of ${e.length} floats, prompt ${prompt.length}`);
      for (let j = 0; j < e.length; j++) sum += e[j] * prompt[j];
    }
    return sum / ids.length;
  });
}

/** (x − mean) / standard deviation over the candidates (all equal: zeros). */
export function standardised(x: ArrayLike<number>): Float32Array {
  const v = Array.from(x);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return Float32Array.from(v, (y) => (sd > 0 ? (y - mean) / sd : 0));
}

/** z(clip) + weight·z(other), per candidate: the mixed score the ranking keeps the best of. */
export function mixedScores(clip: ArrayLike<number>, other: ArrayLike<number>, weight: number): Float32Array {
  if (clip.length !== other.length) throw new Error(`mixedScores: ${clip.length} CLIP scores but ${other.length} other scores`);
  if (!(weight >= 0)) throw new Error(`mixedScores: weight must be ≥ 0, got ${weight}`);
  const a = standardised(clip);
  const b = standardised(other);
  return a.map((x, i) => x + weight * b[i]);
}
