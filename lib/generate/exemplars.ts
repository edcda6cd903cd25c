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

/** The sides of the coarse pictures nearestPictures prunes with, coarsest first: side/8 and side/4 where they divide. */
const coarseSides = (side: number) => [8, 4].filter((f) => side % f === 0).map((f) => side / f);

/** Block means of pictures [n, side, side, 3] at `to`×`to` (not rounded: they bound distances, see nearestPictures). */
function blockMeans(pictures: ArrayLike<number>, n: number, side: number, to: number): Float64Array {
  const f = side / to;
  const out = new Float64Array(n * to * to * 3);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++)
        for (let c = 0; c < 3; c++)
          out[((i * to + Math.floor(y / f)) * to + Math.floor(x / f)) * 3 + c] += pictures[((i * side + y) * side + x) * 3 + c] / (f * f);
  return out;
}

/** Each bank's coarse pictures (one array per coarseSides entry), computed once. */
const coarseOf = new WeakMap<ExemplarBank, Float64Array[]>();

/** Squared distance of rows `a` (offset ai) and `b` (offset bi) of `n` values. */
function rowDistance(a: ArrayLike<number>, ai: number, b: ArrayLike<number>, bi: number, n: number, stopAt = Infinity): number {
  let d = 0;
  for (let j = 0; j < n && d < stopAt; j++) {
    const x = a[ai + j] - b[bi + j];
    d += x * x;
  }
  return d;
}

/**
 * The `m` bank pictures nearest each candidate (squared difference of levels; candidates at the bank's side),
 * nearest first. Ties: the earlier picture first. Exact, and fast: over a block of k pixels, Σ(x − y)² ≥ k·(x̄ − ȳ)²
 * (Cauchy–Schwarz), so the distance of two pictures' block means, times k, bounds their distance from below; a
 * picture whose bound at side/8 (12 values), then at side/4 (48), is beyond the m-th nearest so far is skipped
 * before its 768 values are read. The scan starts from the m pictures nearest at side/8, so the bound bites at once.
 */
export function nearestPictures(bank: ExemplarBank, candidates: readonly ArrayLike<number>[], m: number): number[][] {
  if (!Number.isInteger(m) || m < 1) throw new Error(`nearestPictures: m must be a positive integer, got ${m}`);
  const size = bank.side * bank.side * 3;
  const sides = coarseSides(bank.side);
  let coarse = coarseOf.get(bank);
  if (!coarse) coarseOf.set(bank, (coarse = sides.map((to) => blockMeans(bank.pictures, bank.count, bank.side, to))));
  const levels = sides.map((to, l) => ({ n: to * to * 3, k: (bank.side / to) ** 2, bank: coarse[l] }));
  return candidates.map((c) => {
    if (c.length !== size) throw new Error(`nearestPictures: a candidate of ${c.length} levels, the bank's pictures have ${size}`);
    const mine = sides.map((to) => blockMeans(c, 1, bank.side, to));
    const best: { id: number; d: number }[] = []; // the m nearest so far, nearest first (ties: the earlier id)
    const offer = (id: number, d: number) => {
      if (best.some((b) => b.id === id)) return;
      let at = best.length;
      while (at > 0 && (best[at - 1].d > d || (best[at - 1].d === d && best[at - 1].id > id))) at--;
      best.splice(at, 0, { id, d });
      if (best.length > m) best.pop();
    };
    // Seed with the m nearest at the coarsest side (any m pictures would do; near ones make the bound bite sooner).
    if (levels.length) {
      const first = levels[0];
      const seeds: { id: number; d: number }[] = [];
      for (let id = 0; id < bank.count; id++) {
        const d = rowDistance(mine[0], 0, first.bank, id * first.n, first.n);
        if (seeds.length < m || d < seeds[seeds.length - 1].d) {
          seeds.push({ id, d });
          seeds.sort((a, b) => a.d - b.d);
          if (seeds.length > m) seeds.pop();
        }
      }
      for (const s of seeds) offer(s.id, rowDistance(c, 0, bank.pictures, s.id * size, size));
    }
    for (let id = 0; id < bank.count; id++) {
      const worst = best.length < m ? Infinity : best[best.length - 1].d;
      // Distances of whole levels are whole numbers; the margin keeps float rounding of a bound from skipping a tie.
      if (worst !== Infinity && levels.some((l, i) => l.k * rowDistance(mine[i], 0, l.bank, id * l.n, l.n) > worst + 1e-6)) continue;
      // Summing stops once past the m-th nearest (whole numbers: > worst), so a returned d ≤ worst is the full one.
      const d = rowDistance(c, 0, bank.pictures, id * size, size, worst + 0.5);
      if (d < worst || (d === worst && id < best[best.length - 1].id)) offer(id, d);
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
