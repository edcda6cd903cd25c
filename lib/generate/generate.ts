// Prompt → PNG images with the loaded model: tokenise (reporting truncation and unseen words), sample image codes
// with the KV cache (yielding to the event loop between tokens so a server stays responsive), decode with the
// image tokenizer, encode PNGs with sharp. Optional partial decodes let a caller stream the picture as it forms.
// With a CLIP in the model, `candidates` images are sampled in one batch, scored against the prompt and the best n
// kept (./rerank.ts); the others come back as `rejected`, scored too.
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { serverEnv } from "../env";
import { batchSamplerFor, type Engine } from "./engine";
import type { ModelBundle } from "./model-bundle";
import { rerank } from "./rerank";

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
}

export interface GeneratedImage {
  png: Buffer;
  width: number;
  height: number;
  /** CLIP's cosine with the prompt, when the model has a CLIP. */
  score?: number;
  /** CLIP's unit image embedding, when the model has a CLIP. */
  embedding?: Float32Array;
}

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
}

/** Codes (−1 = not yet written) → uint8 HWC pixels of every image back to back, at the tokenizer's resolution. */
async function decodeBytes(bundle: ModelBundle, codes: Int32Array[]): Promise<Uint8Array> {
  const pixels = bundle.imageTokenizer.decodeCodes(codes); // [B, S, S, 3]
  const bytes = tf.tidy(() => tf.cast(tf.clipByValue(tf.round(tf.mul(pixels, 255)), 0, 255), "int32"));
  try {
    return Uint8Array.from(await bytes.data());
  } finally {
    tf.dispose([pixels, bytes]);
  }
}

function encodePngs(bundle: ModelBundle, bytes: Uint8Array, count: number): Promise<GeneratedImage[]> {
  const size = bundle.imageTokenizer.config.imageSize;
  const n = size * size * 3;
  return Promise.all(
    Array.from({ length: count }, async (_, i) => ({
      png: await sharp(Buffer.from(bytes.subarray(i * n, (i + 1) * n)), { raw: { width: size, height: size, channels: 3 } })
        .png()
        .toBuffer(),
      width: size,
      height: size,
    })),
  );
}

/** Codes (−1 = not yet written) → PNG images, at the tokenizer's native resolution. */
export async function codesToPngs(bundle: ModelBundle, codes: Int32Array[]): Promise<GeneratedImage[]> {
  return encodePngs(bundle, await decodeBytes(bundle, codes), codes.length);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function generateImages(bundle: ModelBundle, params: GenerateParams, options: GenerateOptions = {}): Promise<GenerateResult> {
  const c = bundle.transformer.config;
  const encoded = bundle.text.encode(params.prompt, c.textLen);
  const clip = bundle.clip;
  if (params.candidates !== undefined && (!Number.isInteger(params.candidates) || params.candidates < params.n))
    throw new Error(`candidates must be a whole number ≥ n (${params.n}), got ${params.candidates}`);
  const sampled = clip ? (params.candidates ?? params.n) : params.n;
  const started = performance.now();
  // All candidates in one batch: one KV-cached pass costs less per image than several small ones.
  const sample = await batchSamplerFor(options.engine ?? serverEnv().GENERATION_ENGINE);
  const codes = await sample(bundle.transformer, [encoded.ids], bundle.text.encodeNull(c.textLen), {
    n: sampled,
    guidance: params.guidance,
    temperature: params.temperature,
    topK: params.topK,
    topP: params.topP,
    seed: params.seed,
    onToken: async ({ index, total, codes: sofar }) => {
      const done = index + 1;
      const every = options.partialEvery ?? 0;
      const partial = every > 0 && done % every === 0 && done < total ? await codesToPngs(bundle, sofar.slice(0, params.n)) : undefined;
      await options.onProgress?.({ done, total, partial });
      await yieldToEventLoop();
    },
  });
  const tokensMs = performance.now() - started;
  const bytes = await decodeBytes(bundle, codes);
  const pngs = await encodePngs(bundle, bytes, codes.length);
  const decodedMs = performance.now() - started - tokensMs;
  const warnings = { truncated: encoded.truncated, unknownWords: encoded.unknownWords };
  if (!clip) {
    const timingsMs = { tokens: Math.round(tokensMs), decode: Math.round(decodedMs) };
    return { images: pngs, codes, rejected: [], candidates: null, warnings, timingsMs };
  }
  // CLIP scores the pixels exactly as stored (the PNG's bytes / 255), so a stored score can be recomputed from the image.
  const size = bundle.imageTokenizer.config.imageSize;
  const pixels = tf.tensor4d(
    Float32Array.from(bytes, (v) => v / 255),
    [codes.length, size, size, 3],
  ); // [N, S, S, 3] in [0, 1]
  let ranked;
  try {
    ranked = await rerank(clip, params.prompt, pixels, params.n);
  } finally {
    pixels.dispose();
  }
  const pick = (i: number): GeneratedImage => ({ ...pngs[i], score: ranked.scores[i], embedding: ranked.embeddings[i] });
  return {
    images: ranked.kept.map((k) => pick(k.index)),
    codes: ranked.kept.map((k) => codes[k.index]),
    rejected: ranked.rejected.map((r) => pick(r.index)),
    candidates: codes.length,
    warnings,
    timingsMs: {
      tokens: Math.round(tokensMs),
      decode: Math.round(decodedMs),
      rerank: Math.round(performance.now() - started - tokensMs - decodedMs),
    },
  };
}
