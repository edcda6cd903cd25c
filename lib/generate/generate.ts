// Prompt → PNG images with the loaded model: tokenise (reporting truncation and unseen words), sample image codes
// with the KV cache (yielding to the event loop between tokens so a server stays responsive), decode with the
// image tokenizer, encode PNGs with sharp. Optional partial decodes let a caller stream the picture as it forms.
// With a CLIP in the model, `candidates` images are sampled in one batch, scored against the prompt and the best n
// kept (./rerank.ts); the others come back as `rejected`, scored too. One job here is a batch of one
// (./batch.ts, which the worker uses to sample several jobs together): the same code path either way.
import type { FinishedImage } from "../db/images";
import type { Engine } from "./engine";
import type { PrimeInit } from "./prime-codes";
import { generateBatch } from "./batch";
import type { ModelBundle } from "./model-bundle";

export { codesToPngs } from "./batch";

export interface GenerateParams {
  prompt: string;
  n: number;
  guidance: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  /** Images to sample and rank with CLIP (≥ n); ignored (n are sampled) when the model has no CLIP. */
  candidates?: number;
  /** Image priming: every image starts with the first keepRows rows of the source picture's codes. */
  init?: PrimeInit;
}

/** A generated picture: exactly what the worker stores (its PNG, size, and CLIP score and typicality when the model has them). */
export type GeneratedImage = FinishedImage;

export interface GenerateProgress {
  /** Image tokens written so far, per image. */
  done: number;
  total: number;
  /**
   * PNGs of the images so far (unwritten codes drawn as code 0), when requested for this step: the first n
   * candidates only (decoding all of up to 64 every few tokens would cost more than the sampling).
   */
  partial?: GeneratedImage[];
}

export interface GenerateOptions {
  onProgress?: (p: GenerateProgress) => void | Promise<void>;
  /** Decode partial images every this many tokens (0: never). */
  partialEvery?: number;
  /** What runs the transformer (default GENERATION_ENGINE, onnx). */
  engine?: Engine;
}

export interface GenerateResult {
  /** The n images kept, best CLIP score first when reranked, else in sampled order. */
  images: GeneratedImage[];
  /** Their codes, in the same order. */
  codes: Int32Array[];
  /** Candidates CLIP ranked below the kept ones, best first (empty without reranking). */
  rejected: GeneratedImage[];
  /** How many candidates were sampled and scored; null when the model has no CLIP (reranking off). */
  candidates: number | null;
  warnings: { truncated: boolean; unknownWords: string[] };
  timingsMs: { tokens: number; decode: number; rerank?: number };
  /** The pass it was sampled in: jobs, and sequences (every job's candidates or n; <null> rows not counted). */
  batch: { jobs: number; rows: number };
}

export async function generateImages(bundle: ModelBundle, params: GenerateParams, options: GenerateOptions = {}): Promise<GenerateResult> {
  const [outcome] = await generateBatch(bundle, [{ params, onProgress: options.onProgress }], options);
  if (!outcome.ok) throw outcome.error;
  return outcome.result;
}
