// Reranking (DALL·E, Ramesh et al. 2021 §2.5): sample more candidates than asked for, score each against the
// prompt with CLIP, keep the best n. The ranking itself is a pure function of the scores; scoring is one batched
// pass of both encoders, every tensor freed before it returns.
import * as tf from "@tensorflow/tfjs";
import type { ClipPart } from "./model-bundle";

export interface ScoredCandidate {
  /** Position among the candidates as sampled. */
  index: number;
  /** CLIP cosine similarity with the prompt, in [−1, 1]. */
  score: number;
}

export interface Ranking {
  /** The best n, highest score first (ties: the earlier candidate first, so a ranking is reproducible). */
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

export interface CandidateScores {
  /** One per candidate, in sampled order. */
  scores: Float32Array;
  /** Each candidate's unit image embedding (embedDim floats), in sampled order: stored for search by meaning. */
  embeddings: Float32Array[];
}

/**
 * CLIP scores of candidate images [N, S, S, 3] in [0, 1] against a prompt: the cosine of each image's embedding
 * with the prompt's (read with CLIP's own tokenizer, at CLIP's text length — never the <null> caption guidance uses).
 */
export async function scoreCandidates(clip: ClipPart, prompt: string, pixels: tf.Tensor4D): Promise<CandidateScores> {
  const c = clip.model.config;
  const ids = tf.tensor2d([clip.text.encode(prompt, c.textLen).ids], [1, c.textLen], "int32");
  let images: tf.Tensor2D | undefined;
  let scores: tf.Tensor1D | undefined;
  try {
    images = clip.model.encodeImages(pixels); // [N, D]
    const image = images;
    // Both sides are unit vectors, so the dot product is the cosine: [N, D] · [D, 1] → [N, 1] → [N].
    scores = tf.tidy(() => tf.reshape(tf.matMul(image, clip.model.encodeTexts(ids), false, true), [-1]) as tf.Tensor1D);
    const [s, e] = await Promise.all([scores.data(), images.data()]);
    const d = images.shape[1];
    return {
      scores: Float32Array.from(s),
      embeddings: Array.from({ length: images.shape[0] }, (_, i) => Float32Array.from(e.subarray(i * d, (i + 1) * d))),
    };
  } finally {
    tf.dispose([ids, images, scores].filter((t) => t !== undefined));
  }
}

/** Scores the candidates and keeps the best `n`. */
export async function rerank(clip: ClipPart, prompt: string, pixels: tf.Tensor4D, n: number): Promise<Ranking & CandidateScores> {
  const scored = await scoreCandidates(clip, prompt, pixels);
  return { ...scored, ...rankByScore(scored.scores, n) };
}
