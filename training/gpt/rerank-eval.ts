// What reranking buys (issue 16, part 5): for every prompt, `candidates` pictures are sampled at one setting (the
// server's defaults); "off" keeps the first `images` of them as sampled, "on" keeps what the server's own rerank()
// keeps (lib/generate/rerank.ts: the best by CLIP's score, kept apart), so the numbers describe what users get. Both
// are then scored by their nearest real images, so the two rows differ only in which of the same candidates are
// kept: equal n, equal samples. Each row's variety (training/gpt/variety.ts) is measured over the kept pictures too:
// by score alone CLIP would often keep the same likeliest picture n times, which the keeping apart is to prevent.
// "oracle" is the ceiling any reranker has on the same candidates: per prompt and measure, the share of the kept
// `images` that could hit if the reranker knew the answer (min(hits among all candidates, images) / images). The gap
// between "on" and "oracle" is CLIP's to close; the gap between "oracle" and 100 % is the transformer's.
import * as tf from "@tensorflow/tfjs";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { BatchSampler } from "../../lib/generate/engine";
import type { SampleOptions } from "../../lib/model/sample";
import type { Transformer } from "../../lib/model/transformer";
import type { VQModel } from "../../lib/model/vq-model";
import type { ExemplarPart } from "../../lib/generate/exemplar-folder";
import type { ClipPart } from "../../lib/generate/model-bundle";
import { rerank } from "../../lib/generate/rerank";
import type { TextTokenizer } from "../../lib/text/tokenizer";
import { labelOf, mean, score, zeroScores, type Scores } from "./eval-sets";
import { tallyGroups, VarietyTally, type Variety } from "./variety";

export interface RerankRow {
  off: Scores;
  on: Scores;
  /** The best any reranker could keep from the same candidates (see the header). */
  oracle: Scores;
  /** Mean CLIP score of the kept pictures, off and on. */
  clipOff: number;
  clipOn: number;
  /** Variety of the kept pictures of each prompt, off and on. */
  varietyOff: Variety;
  varietyOn: Variety;
}

/** What the server keeps of one request: every candidate's pixels, CLIP's scores, and which candidates it keeps. */
export interface ServedRequest {
  /** All candidates [C, S, S, 3] in [0, 1], as decoded (the caller disposes). */
  pixels: tf.Tensor4D;
  /** Candidates kept by the server's rerank(), best first. */
  kept: number[];
  /** CLIP's score of each candidate, in sampled order. */
  scores: Float32Array;
}

/** What one request's candidates look like: their decoded pixels and the same as the server's 8-bit PNGs store them. */
export interface Candidates {
  /** [C, S, S, 3] in [0, 1], as decoded. */
  pixels: tf.Tensor4D;
  /** The same rounded to 8 bits (lib/generate/batch.ts), what the server's CLIP scores. */
  stored: tf.Tensor4D;
  /** Each candidate's code grid (h·w row-major), as sampled. */
  codes: ArrayLike<number>[];
}

/** `candidates` pictures for `caption` sampled at `setting` with `seed` (the caller disposes both tensors). */
export async function sampleCandidates(o: {
  gpt: Transformer;
  vq: VQModel;
  tok: TextTokenizer;
  caption: string;
  setting: Omit<SampleOptions, "n" | "seed">;
  candidates: number;
  seed: number;
  sample: BatchSampler;
}): Promise<Candidates> {
  const textLen = o.gpt.config.textLen;
  const codes = await o.sample(o.gpt, [o.tok.encode(o.caption, textLen).ids], o.tok.encodeNull(textLen), {
    ...o.setting,
    n: o.candidates,
    seed: o.seed,
  });
  const pixels = o.vq.decodeCodes(codes); // [C, S, S, 3]
  const stored = tf.tidy(() => tf.div(tf.clipByValue(tf.round(tf.mul(pixels, 255)), 0, 255), 255) as tf.Tensor4D);
  return { pixels, stored, codes };
}

/**
 * One request as the server serves it: `candidates` pictures sampled at `setting` with `seed`, scored by CLIP (and
 * the exemplar bank's vote, when given) and `images` of them kept by the server's own rerank() on the pixels as its PNGs store them (lib/generate/batch.ts).
 */
export async function servedRequest(
  o: Parameters<typeof sampleCandidates>[0] & { clip: ClipPart; images: number; exemplars?: ExemplarPart },
): Promise<ServedRequest> {
  const { pixels, stored } = await sampleCandidates(o);
  try {
    const ranked = await rerank(o.clip, o.caption, stored, o.images, o.exemplars);
    return { pixels, kept: ranked.kept.map((k) => k.index), scores: ranked.scores };
  } catch (err) {
    pixels.dispose();
    throw err;
  } finally {
    stored.dispose();
  }
}

/** Each candidate's nearest real images: pixels [C, S, S, 3] flattened and handed to `neighbours`. */
export function candidateNeighbours(pixels: tf.Tensor4D, neighbours: (q: tf.Tensor2D) => Int32Array[]): Int32Array[] {
  const all = tf.tidy(() => tf.reshape(pixels, [pixels.shape[0], -1]) as tf.Tensor2D); // [C, S·S·3]
  try {
    return neighbours(all);
  } finally {
    all.dispose();
  }
}

/**
 * The most hits any choice of `images` of these candidates (their nearest-image ids, 5 each) can score against
 * `label`, per measure: min(candidates that hit, images). Summed like score()'s counts (divide by the images kept).
 */
export function keptCeiling(neighbours: readonly ArrayLike<number>[], labels: readonly string[], label: string, images: number): Scores {
  const hits = zeroScores();
  for (const nb of neighbours) score(hits, nb, labels, label);
  const out = zeroScores();
  for (const k of Object.keys(hits) as (keyof Scores)[]) out[k] = Math.min(hits[k], images);
  return out;
}

export async function rerankComparison(o: {
  gpt: Transformer;
  vq: VQModel;
  tok: TextTokenizer;
  clip: ClipPart;
  /** The model folder's exemplar bank, when it has one (the server's ranking mixes its vote with CLIP's score). */
  exemplars?: ExemplarPart;
  prompts: CaptionRecord[];
  setting: Omit<SampleOptions, "n" | "seed">;
  candidates: number;
  images: number;
  seed: number;
  /** Nearest-neighbour ids (5 per query) of flattened pictures [Q, H·W·3]. */
  neighbours: (pixels: tf.Tensor2D) => Int32Array[];
  labels: readonly string[];
  /** The batch sampler (lib/generate/engine.ts). */
  sample: BatchSampler;
  onPrompt?: () => void;
}): Promise<RerankRow> {
  const off = zeroScores();
  const on = zeroScores();
  const oracle = zeroScores();
  let clipOff = 0;
  let clipOn = 0;
  const variety = { off: new VarietyTally(), on: new VarietyTally() };
  for (const [p, r] of o.prompts.entries()) {
    const { pixels, kept, scores } = await servedRequest({ ...o, caption: r.caption, seed: o.seed * 100_003 + p });
    try {
      const neighbours = candidateNeighbours(pixels, o.neighbours);
      const label = labelOf(r);
      const best = keptCeiling(neighbours, o.labels, label, o.images);
      for (const k of Object.keys(best) as (keyof Scores)[]) oracle[k] += best[k];
      const first = Array.from({ length: o.images }, (_, i) => i);
      for (const [which, ids, s] of [
        ["off", first, off],
        ["on", kept, on],
      ] as const) {
        for (const i of ids) score(s, neighbours[i], o.labels, label);
        if (ids.length > 1) {
          const flat = tf.tidy(() => tf.reshape(tf.gather(pixels, ids), [ids.length, -1]) as tf.Tensor2D); // [n, S·S·3]
          try {
            tallyGroups(
              variety[which],
              flat,
              ids.map((i) => neighbours[i]),
              o.labels,
              ids.length,
            );
          } finally {
            flat.dispose();
          }
        }
        const mine = ids.reduce((a, i) => a + scores[i], 0);
        if (which === "off") clipOff += mine;
        else clipOn += mine;
      }
    } finally {
      pixels.dispose();
    }
    o.onPrompt?.();
  }
  const n = o.prompts.length * o.images;
  return {
    off: mean(off, n),
    on: mean(on, n),
    oracle: mean(oracle, n),
    clipOff: clipOff / n,
    clipOn: clipOn / n,
    varietyOff: variety.off.result(),
    varietyOn: variety.on.result(),
  };
}
