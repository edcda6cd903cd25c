// Reranking (DALL·E, Ramesh et al. 2021 §2.5): sample more candidates than asked for, score each against the
// prompt with CLIP, keep the best n — but keep them apart (issue 29, part 3): CLIP favours the likeliest picture, so
// the n best by score alone are often one picture n times, and a person asking for four expects four different
// ones. The ranking itself is a pure function of the scores and pictures; scoring is one batched pass of both
// encoders, every tensor freed before it returns.
import * as tf from "@tensorflow/tfjs";
import { NEAR_COPY_LEVELS, pairDistance, toLevels } from "./distinct";
import { exemplarVotes, type ExemplarPart } from "./exemplar-folder";
import { mixedScores } from "./exemplars";
import type { ClipPart } from "./model-bundle";

export interface ScoredCandidate {
  /** Position among the candidates as sampled. */
  index: number;
  /** CLIP cosine similarity with the prompt, in [−1, 1]. */
  score: number;
}

export interface Ranking {
  /**
   * The n kept (the best by score, or kept apart too: rankApart), highest score first (ties: the earlier candidate
   * first, so a ranking is reproducible).
   */
  kept: ScoredCandidate[];
  /** The others, also highest first. */
  rejected: ScoredCandidate[];
}

/** Splits candidates into the best `n` and the rest by score. */
export function rankByScore(scores: ArrayLike<number>, n: number): Ranking {
  if (!Number.isInteger(n) || n < 1 || n > scores.length) throw new Error(`rankByScore: n must be 1–${scores.length}, got ${n}`);
  const all = Array.from(scores, (score, index) => ({ index, score })).sort((a, b) => b.score - a.score || a.index - b.index);
  return { kept: all.slice(0, n), rejected: all.slice(n) };
}

/**
 * How far apart (mean absolute difference, grey levels 0–255, ./distinct.ts) each kept picture must be from every
 * other one kept before it, when enough candidates are. Exactly the near-copy threshold, not more: more than 8
 * apart is all a group needs not to count as a near-copy, and a larger threshold leaves fewer candidates far
 * enough, so more places go to the fill by score, which brings copies of the best back. Measured once on
 * models/default (eval:gpt at s 1.5 T 0.7, 4 of 16 candidates, 48 prompts a set), the near-copy share of the kept
 * four was 4.2 % held-out and train at 8 levels, 6.3 % at 12, and 10.4 / 8.3 % at 16 (by score alone 22.9 / 16.7 %).
 */
export const KEEP_APART_LEVELS = NEAR_COPY_LEVELS;

/**
 * The best `n` kept apart: the best-scoring candidate first, then greedily the next best by score whose picture is
 * more than `apart` levels from every picture kept so far. When fewer than n candidates qualify, the best of the
 * rest by score fill the places left, so n are always returned (some then closer than `apart`). Both lists are in
 * score order, highest first (ties: the earlier candidate), as rankByScore's; `pictures` are the candidates' grey
 * levels in sampled order (./distinct.ts toLevels).
 */
export function rankApart(
  scores: ArrayLike<number>,
  pictures: readonly ArrayLike<number>[],
  n: number,
  apart = KEEP_APART_LEVELS,
): Ranking {
  if (pictures.length !== scores.length) throw new Error(`rankApart: ${scores.length} scores but ${pictures.length} pictures`);
  if (!Number.isInteger(n) || n < 1 || n > scores.length) throw new Error(`rankApart: n must be 1–${scores.length}, got ${n}`);
  const { kept: byScore } = rankByScore(scores, scores.length);
  const chosen = new Set<number>();
  for (const c of byScore) {
    if (chosen.size === n) break;
    if ([...chosen].every((k) => pairDistance(pictures[k], pictures[c.index]) > apart)) chosen.add(c.index);
  }
  for (const c of byScore) {
    if (chosen.size === n) break;
    chosen.add(c.index);
  }
  return { kept: byScore.filter((c) => chosen.has(c.index)), rejected: byScore.filter((c) => !chosen.has(c.index)) };
}

export interface CandidateScores {
  /** One per candidate, in sampled order. */
  scores: Float32Array;
  /** Each candidate's unit image embedding (embedDim floats), in sampled order: stored for search by meaning. */
  embeddings: Float32Array[];
  /** The prompt's unit text embedding (embedDim floats). */
  prompt: Float32Array;
}

/**
 * CLIP scores of candidate images [N, S, S, 3] in [0, 1] against a prompt: the cosine of each image's embedding
 * with the prompt's (read with CLIP's own tokenizer, at CLIP's text length — never the <null> caption guidance uses).
 */
export async function scoreCandidates(clip: ClipPart, prompt: string, pixels: tf.Tensor4D): Promise<CandidateScores> {
  const c = clip.model.config;
  const ids = tf.tensor2d([clip.text.encode(prompt, c.textLen).ids], [1, c.textLen], "int32");
  let images: tf.Tensor2D | undefined;
  let text: tf.Tensor2D | undefined;
  let scores: tf.Tensor1D | undefined;
  try {
    images = clip.model.encodeImages(pixels); // [N, D]
    text = clip.model.encodeTexts(ids); // [1, D]
    const [image, query] = [images, text];
    // Both sides are unit vectors, so the dot product is the cosine: [N, D] · [D, 1] → [N, 1] → [N].
    scores = tf.tidy(() => tf.reshape(tf.matMul(image, query, false, true), [-1]) as tf.Tensor1D);
    const [s, e, q] = await Promise.all([scores.data(), images.data(), text.data()]);
    const d = images.shape[1];
    return {
      scores: Float32Array.from(s),
      embeddings: Array.from({ length: images.shape[0] }, (_, i) => Float32Array.from(e.subarray(i * d, (i + 1) * d))),
      prompt: Float32Array.from(q),
    };
  } finally {
    tf.dispose([ids, images, text, scores].filter((t) => t !== undefined));
  }
}

/** Unit CLIP text embeddings of `texts`, row-major [texts, dim], `batch` at a time (CLIP's own tokenizer and length). */
export async function embedTexts(
  clip: ClipPart,
  texts: readonly string[],
  batch = 512,
): Promise<{ dim: number; embeddings: Float32Array }> {
  const c = clip.model.config;
  const parts: Float32Array[] = [];
  let dim = c.embedDim;
  for (let at = 0; at < texts.length; at += batch) {
    const chunk = texts.slice(at, at + batch);
    const ids = tf.tensor2d(
      chunk.map((t) => clip.text.encode(t, c.textLen).ids),
      [chunk.length, c.textLen],
      "int32",
    );
    const emb = clip.model.encodeTexts(ids); // [b, D]
    try {
      dim = emb.shape[1];
      parts.push(Float32Array.from(await emb.data()));
    } finally {
      tf.dispose([ids, emb]);
    }
  }
  const embeddings = new Float32Array(texts.length * dim);
  parts.reduce((offset, p) => (embeddings.set(p, offset), offset + p.length), 0);
  return { dim, embeddings };
}

/**
 * Scores the candidates [N, S, S, 3] in [0, 1] and keeps the best `n` apart (rankApart), comparing the pictures as
 * the grey levels their PNGs store. With a model's exemplar bank (./exemplar-folder.ts), the ranking is by CLIP's
 * score mixed with the bank's vote (./exemplars.ts: z(CLIP) + weight·z(vote)); `scores` stay CLIP's cosines either
 * way (what is stored and searched). The server's worker and the eval (training/gpt/rerank-eval.ts) both call
 * this, so the eval's numbers describe what users get.
 */
export async function rerank(
  clip: ClipPart,
  prompt: string,
  pixels: tf.Tensor4D,
  n: number,
  exemplars?: ExemplarPart,
): Promise<Ranking & CandidateScores> {
  const scored = await scoreCandidates(clip, prompt, pixels);
  const levels = toLevels(pixels);
  if (!exemplars) return { ...scored, ...rankApart(scored.scores, levels, n) };
  const votes = await exemplarVotes(exemplars, clip, scored.prompt, levels, pixels.shape[1]);
  return { ...scored, ...rankApart(mixedScores(scored.scores, votes, exemplars.weight), levels, n) };
}
