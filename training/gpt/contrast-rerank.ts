// Contrastive reranking, an experiment beside the server's CLIP reranker (issue 29 part 3; npm run eval:rerank
// --contrast). The server keeps the candidates with the highest cosine to the prompt. A cosine alone favours pictures
// that are close to every caption of their kind (a plain yellow disc is close to every smiley), and it cannot tell
// "thumbs up: light skin tone" from "thumbs up: dark skin tone" unless the two cosines differ by more than the
// picture's general likeness. CLIP was trained to pick the right caption among others (Radford et al. 2021, §2.3:
// the softmax over a batch's captions), so ask it that question instead: how likely is the prompt among competing
// captions, given the picture —
//   score_i = s·cos(i, prompt) − w · log( exp(s·cos(i, prompt)) + Σ_j exp(s·cos(i, competitor_j)) )
// with s CLIP's logit scale. w = 1 is the log of the softmax probability of the prompt; w = 0 is the server's cosine
// (times s). The competitors are the captions of near labels in the prompt's style (near: the family's other skin
// tones, labels one word away — the siblings exact@1 must tell apart), one caption of every other (label, style)
// pair CLIP trained on (all: a penalty on pictures that fit everything), or the k trained captions whose text
// embeddings are nearest the prompt's (knn: what a server could do for any prompt).
// NOTE: measured (npm run eval:rerank -- models/default --clip models/default/clip --prompts 100 --contrast 0.5,1,
// shipped CLIP, 16 candidates, paired against its cosine): no kind at either weight beats the cosine by more than a
// standard error on any measure (best: "all" w 1, held-out exact@1 +1.5 ± 1.1); "near" and "knn" at w 1 lose
// 3–4 points of family@1. The server keeps the cosine.
import * as tf from "@tensorflow/tfjs";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { ClipPart } from "../../lib/generate/model-bundle";
import { embedTexts } from "../../lib/generate/rerank";
import { nearLabels } from "../clip/label-negatives";
import { labelOf, styleOf } from "./eval-sets";

/** Unit text embeddings of captions, row-major [M, D]. */
export interface CaptionBank {
  captions: string[];
  dim: number;
  embeddings: Float32Array;
  /** Caption → row. */
  row: Map<string, number>;
}

/** Embeds distinct captions with CLIP's text tower, `batch` at a time. */
export async function embedCaptions(clip: ClipPart, captions: readonly string[], batch = 512): Promise<CaptionBank> {
  const unique = [...new Set(captions)];
  const { dim, embeddings } = await embedTexts(clip, unique, batch);
  return { captions: unique, dim, embeddings, row: new Map(unique.map((t, i) => [t, i])) };
}

/** A caption's row in the bank; a caption the bank lacks is an error naming the caller. */
function rowOf(bank: CaptionBank, caption: string, who: string): number {
  const r = bank.row.get(caption);
  if (r === undefined) throw new Error(`${who}: "${caption}" is not in the caption bank`);
  return r;
}

/** v · the bank's row r. */
function dotRow(v: ArrayLike<number>, bank: CaptionBank, r: number): number {
  const d = bank.dim;
  let dot = 0;
  for (let j = 0; j < d; j++) dot += v[j] * bank.embeddings[r * d + j];
  return dot;
}

/** One caption per (style, label) pair of the records: the first one met. Key "style|label". */
function captionPerPair(records: readonly CaptionRecord[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of records) {
    const key = `${styleOf(r)}|${labelOf(r)}`;
    if (!out.has(key)) out.set(key, r.caption);
  }
  return out;
}

/** Competitor captions for a prompt record, drawn from the train records (never the prompt's own pair). */
export interface Competitors {
  near(prompt: CaptionRecord): string[];
  all(prompt: CaptionRecord): string[];
  /** Every caption either kind can return, to embed once. */
  captions: string[];
}

export function competitorsFrom(train: readonly CaptionRecord[], prompts: readonly CaptionRecord[]): Competitors {
  const pairs = captionPerPair(train);
  const near = nearLabels([...train, ...prompts].map(labelOf));
  const everything = [...pairs.entries()];
  return {
    near: (p) => {
      const style = styleOf(p);
      return [...(near.get(labelOf(p)) ?? [])].flatMap((l) => {
        const c = pairs.get(`${style}|${l}`);
        return c === undefined ? [] : [c];
      });
    },
    all: (p) => {
      const own = `${styleOf(p)}|${labelOf(p)}`;
      return everything.filter(([key]) => key !== own).map(([, c]) => c);
    },
    captions: [...pairs.values()],
  };
}

/**
 * The `k` captions of `pool` whose text embeddings are nearest the prompt's (cosine), the prompt's own caption left
 * out: competitors any free-text prompt can be given at serving time, with no labels or styles to read.
 */
export function nearestCaptions(bank: CaptionBank, prompt: string, pool: readonly string[], k: number): string[] {
  const p = rowOf(bank, prompt, "nearestCaptions");
  const q = bank.embeddings.subarray(p * bank.dim, (p + 1) * bank.dim);
  const scored = pool.filter((c) => c !== prompt).map((c) => ({ c, dot: dotRow(q, bank, rowOf(bank, c, "nearestCaptions")) }));
  return scored
    .sort((a, b) => b.dot - a.dot)
    .slice(0, k)
    .map((x) => x.c);
}

/** Cosines of candidates' unit image embeddings with one caption of the bank (CLIP's score against that text). */
export function captionCosines(bank: CaptionBank, caption: string, images: readonly Float32Array[]): Float32Array {
  const r = rowOf(bank, caption, "captionCosines");
  return Float32Array.from(images, (img) => dotRow(img, bank, r));
}

/**
 * Contrastive scores of N candidates: `cosines` [N] with the prompt (the server's scores), `images` the candidates'
 * unit embeddings, `competitors` rows of `bank`; see the header for the formula.
 */
export function contrastScores(
  cosines: ArrayLike<number>,
  images: readonly Float32Array[],
  bank: CaptionBank,
  competitors: readonly string[],
  scale: number,
  weight: number,
): Float32Array {
  const rows = competitors.map((c) => rowOf(bank, c, "contrastScores"));
  return Float32Array.from(images, (img, i) => {
    const own = scale * cosines[i];
    const logits = [own, ...rows.map((r) => scale * dotRow(img, bank, r))];
    const max = Math.max(...logits);
    let sum = 0;
    for (const l of logits) sum += Math.exp(l - max);
    return own - weight * (max + Math.log(sum));
  });
}
