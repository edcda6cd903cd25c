// Several generation jobs in one sampling pass (issue 18): a KV-cached batch of 8–16 sequences costs far less per
// image than batch 1, so the worker samples jobs for the same model together. Each job is a group of rows with its
// own prompt, n or candidates, seed, temperature, filters and guidance (../model/sample.ts sampleImageCodeGroups)
// drawn from its own generator, so its codes are those it gets alone. Everything after sampling is per job and
// exactly as alone: its partial pictures and progress, its decode (its own codes only, in one decoder call),
// CLIP reranking of its own candidates, the typicality of each (./typicality.ts). A job that fails or stops (its
// progress callback throws: a lost lease) fails or stops alone; its rows still run with the batch, since a KV cache
// cannot drop rows cheaply. An image-primed job (issue 32: `init`) is a group like any other whose images start
// with its source picture's top rows of codes (./prime-codes.ts): same guidance, temperature, top-k, seed,
// candidates and reranking; its partial pictures show the kept rows from the first token on.
import * as tf from "@tensorflow/tfjs";
import { serverEnv } from "../env";
import type { SampleGroup } from "../model/sample";
import { groupSamplerFor, type Engine } from "./engine";
import { primePrefix } from "./prime-codes";
import type { GeneratedImage, GenerateParams, GenerateProgress, GenerateResult } from "./generate";
import type { ModelBundle } from "./model-bundle";
import type { GenerationParams } from "./params";
import { rgbToPngs } from "./png";
import { rerank } from "./rerank";
import { withTypicality } from "./typicality";

export interface BatchJob {
  params: GenerateParams;
  /** Throwing stops this job only: no more progress, no result (its outcome is the error); the others go on. */
  onProgress?: (p: GenerateProgress) => void | Promise<void>;
}

export type BatchOutcome = { ok: true; result: GenerateResult } | { ok: false; error: unknown };

export interface BatchOptions {
  /** Decode partial images every this many tokens (0: never). */
  partialEvery?: number;
  /** What runs the transformer (default GENERATION_ENGINE, onnx). */
  engine?: Engine;
}

/** Sequences a job samples: its candidates when the model reranks (has a CLIP), else n. What MAX_BATCH counts. */
export function sequencesOf(params: { n: number; candidates?: number }, reranks: boolean): number {
  return reranks ? (params.candidates ?? params.n) : params.n;
}

/** A job's sequences by its params as stored; Infinity for params no batch can hold (such a job runs, and fails, alone). */
export function sequencesOfStored(params: unknown, reranks: boolean): number {
  const { n, candidates } = (params ?? {}) as { n?: unknown; candidates?: unknown };
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) return Infinity;
  if (candidates !== undefined && (typeof candidates !== "number" || !Number.isInteger(candidates) || candidates < n)) return Infinity;
  return sequencesOf({ n, candidates }, reranks);
}

/**
 * A queued job as stored (prompt, its params JSON as the API wrote them, seed, and the source picture of a primed
 * job) → what generateBatch takes.
 */
export function generateParamsOf(job: { prompt: string; params: unknown; seed: number; source?: Uint8Array | null }): GenerateParams {
  const p = job.params as Omit<GenerationParams, "prompt">;
  return {
    prompt: job.prompt,
    n: p.n,
    guidance: p.guidance,
    temperature: p.temperature,
    topK: p.topK || undefined,
    seed: job.seed,
    // Jobs queued before reranking existed have none: n candidates, i.e. scored but not reranked.
    candidates: p.candidates,
    // A primed job whose source went missing keeps its init (with no bytes) and fails, rather than running unprimed.
    ...(p.keepRows !== undefined ? { init: { source: job.source ?? new Uint8Array(), keepRows: p.keepRows } } : {}),
  };
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

async function encodePngs(bundle: ModelBundle, bytes: Uint8Array, count: number): Promise<GeneratedImage[]> {
  const size = bundle.imageTokenizer.config.imageSize;
  return (await rgbToPngs(bytes, count, size)).map((png) => ({ png, width: size, height: size }));
}

/** Codes (−1 = not yet written) → PNG images, at the tokenizer's native resolution. */
export async function codesToPngs(bundle: ModelBundle, codes: Int32Array[]): Promise<GeneratedImage[]> {
  return encodePngs(bundle, await decodeBytes(bundle, codes), codes.length);
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Every job of the batch stopped: the pass is abandoned (no one would get its codes). */
class AllStopped extends Error {}

/** What a job must satisfy before it joins a batch, so a bad job fails alone instead of failing the pass. */
function check(p: GenerateParams): void {
  if (!Number.isInteger(p.n) || p.n < 1) throw new Error(`n must be a positive integer, got ${p.n}`);
  if (p.candidates !== undefined && (!Number.isInteger(p.candidates) || p.candidates < p.n))
    throw new Error(`candidates must be a whole number ≥ n (${p.n}), got ${p.candidates}`);
  if (!(p.temperature > 0)) throw new Error(`temperature must be > 0, got ${p.temperature}`);
  if (p.init && p.init.source.byteLength === 0) throw new Error("the job's source picture is missing: it cannot be primed");
}

/**
 * Generates every job in one sampling pass; one outcome per job, in order. Never throws: a job's failure (bad
 * parameters, its progress callback, its decode or reranking) is its outcome alone; a failure of the pass itself
 * is every sampled job's.
 */
export async function generateBatch(bundle: ModelBundle, jobs: BatchJob[], options: BatchOptions = {}): Promise<BatchOutcome[]> {
  const c = bundle.transformer.config;
  const reranks = bundle.clip !== undefined;
  const outcomes: (BatchOutcome | undefined)[] = jobs.map(() => undefined);
  const fail = (j: number, error: unknown) => void (outcomes[j] ??= { ok: false, error });
  const live: { job: number; encoded: ReturnType<ModelBundle["text"]["encode"]>; prefix?: Int32Array }[] = [];
  for (const [job, { params }] of jobs.entries()) {
    try {
      check(params);
      const encoded = bundle.text.encode(params.prompt, c.textLen);
      // A source that does not decode fails its job alone, before the pass.
      const prefix = params.init ? await primePrefix(bundle.imageTokenizer, params.init) : undefined;
      live.push({ job, encoded, prefix });
    } catch (error) {
      fail(job, error);
    }
  }
  if (live.length === 0) return outcomes as BatchOutcome[];
  const groups: SampleGroup[] = live.map(({ job, encoded, prefix }) => {
    const p = jobs[job].params;
    const { guidance, temperature, topK, topP, seed } = p;
    return { texts: [encoded.ids], n: sequencesOf(p, reranks), guidance, temperature, topK, topP, seed, prefix };
  });
  const batch = { jobs: live.length, rows: groups.reduce((s, g) => s + g.n, 0) };
  const started = performance.now();
  let codes: Int32Array[][];
  try {
    const sample = await groupSamplerFor(options.engine ?? serverEnv().GENERATION_ENGINE);
    codes = await sample(bundle.transformer, groups, bundle.text.encodeNull(c.textLen), {
      onToken: async ({ index, total, codes: sofar }) => {
        const done = index + 1;
        const every = options.partialEvery ?? 0;
        const regular = every > 0 && done % every === 0 && done < total;
        await Promise.all(
          live.map(async ({ job, prefix }, g) => {
            const { params, onProgress } = jobs[job];
            if (outcomes[job] || !onProgress) return;
            // A primed job's first picture comes with its first token: the kept rows, at once.
            const due = regular || (prefix !== undefined && every > 0 && done === 1 && done < total);
            try {
              // Partial pictures of the job's first n candidates only (decoding all of them would cost more than sampling).
              const partial = due ? await codesToPngs(bundle, sofar[g].slice(0, params.n)) : undefined;
              await onProgress({ done, total, partial });
            } catch (error) {
              fail(job, error);
            }
          }),
        );
        if (live.every(({ job }) => outcomes[job])) throw new AllStopped();
        await yieldToEventLoop();
      },
    });
  } catch (error) {
    // After AllStopped every job already holds its own error; otherwise the pass failed for all of them.
    for (const { job } of live) fail(job, error);
    return outcomes as BatchOutcome[];
  }
  const tokensMs = performance.now() - started;
  for (const [g, { job, encoded }] of live.entries()) {
    if (outcomes[job]) continue;
    try {
      const warnings = { truncated: encoded.truncated, unknownWords: encoded.unknownWords };
      outcomes[job] = { ok: true, result: { ...(await finish(bundle, jobs[job].params, codes[g], tokensMs)), warnings, batch } };
    } catch (error) {
      fail(job, error);
    }
  }
  return outcomes as BatchOutcome[];
}

/**
 * One job's sampled codes → its PNGs, reranked by CLIP on its own candidates when the model has one (with the vote
 * of its exemplar bank, when it has one too).
 */
async function finish(
  bundle: ModelBundle,
  params: GenerateParams,
  codes: Int32Array[],
  tokensMs: number,
): Promise<Omit<GenerateResult, "warnings" | "batch">> {
  const started = performance.now();
  const bytes = await decodeBytes(bundle, codes);
  // Every candidate's typicality (bits/dim under the model's flow, when it has one), from the pixels as stored.
  const pngs = (await withTypicality(bundle.typicality, bytes, await encodePngs(bundle, bytes, codes.length))).map((img, i) => ({
    ...img,
    codes: codes[i],
  }));
  const decodedMs = performance.now() - started;
  const clip = bundle.clip;
  if (!clip) {
    const timingsMs = { tokens: Math.round(tokensMs), decode: Math.round(decodedMs) };
    return { images: pngs, codes, rejected: [], candidates: null, timingsMs };
  }
  // CLIP scores the pixels exactly as stored (the PNG's bytes / 255), so a stored score can be recomputed from the image.
  const size = bundle.imageTokenizer.config.imageSize;
  const pixels = tf.tensor4d(
    Float32Array.from(bytes, (v) => v / 255),
    [codes.length, size, size, 3],
  ); // [N, S, S, 3] in [0, 1]
  let ranked;
  try {
    ranked = await rerank(clip, params.prompt, pixels, params.n, bundle.exemplars);
  } finally {
    pixels.dispose();
  }
  const pick = (i: number): GeneratedImage => ({ ...pngs[i], score: ranked.scores[i], embedding: ranked.embeddings[i] });
  return {
    images: ranked.kept.map((k) => pick(k.index)),
    codes: ranked.kept.map((k) => codes[k.index]),
    rejected: ranked.rejected.map((r) => pick(r.index)),
    candidates: codes.length,
    timingsMs: {
      tokens: Math.round(tokensMs),
      decode: Math.round(decodedMs),
      rerank: Math.round(performance.now() - started - decodedMs),
    },
  };
}
