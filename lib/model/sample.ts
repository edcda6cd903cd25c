// Writes image codes one by one after a prompt: N images per prompt in one batch, classifier-free guidance with
// the <null> caption (cond and uncond rows share the batch), a KV cache so each token costs one incremental
// forward pass, and an onToken callback for streaming progress and partial images.
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../data/rng";
import { guide, sampleToken, type SamplingFilter } from "./sampling";
import { disposeCache, type KVCache, type Transformer } from "./transformer";
import { imageTokens } from "./transformer-config";

export interface SampleOptions extends SamplingFilter {
  /** Images for this prompt. */
  n: number;
  /** Guidance scale s; 1 turns guidance off (no unconditional rows are run). */
  guidance: number;
  seed: number;
  /** Default true; false recomputes the whole sequence per token (for tests and benchmarks). */
  useCache?: boolean;
  /** Called after each token with the codes so far (row-major, -1 where not yet written). May be async. */
  onToken?: (progress: { index: number; total: number; codes: Int32Array[] }) => void | Promise<void>;
}

/**
 * Samples `n` grids of image codes for a tokenised prompt. `text` and `nullText` are tokenizer ids of length
 * T_text (padded with <pad>). Returns n arrays of h·w codes.
 */
export async function sampleImageCodes(model: Transformer, text: number[], nullText: number[], o: SampleOptions): Promise<Int32Array[]> {
  return sampleImageCodesBatch(model, [text], nullText, o);
}

/**
 * The same for several prompts in one batch (cheaper per image than one prompt at a time): `n` images for each
 * of `texts`, returned prompt by prompt (texts.length · n grids). With one prompt it is exactly sampleImageCodes.
 */
export async function sampleImageCodesBatch(
  model: Transformer,
  texts: number[][],
  nullText: number[],
  o: SampleOptions,
): Promise<Int32Array[]> {
  const c = model.config;
  const total = imageTokens(c);
  if (texts.length < 1) throw new Error("sampleImageCodesBatch: no prompts");
  if (texts.some((t) => t.length !== c.textLen) || nullText.length !== c.textLen)
    throw new Error(`prompt ids must have length ${c.textLen}`);
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`n must be a positive integer, got ${o.n}`);
  const guided = o.guidance !== 1;
  const images = texts.length * o.n; // conditional rows, prompt-major
  const rows = guided ? 2 * images : images;
  const condRows = texts.flatMap((t) => Array(o.n).fill(t) as number[][]);
  const prompts = tf.tensor2d([...condRows, ...(guided ? Array(images).fill(nullText) : [])], [rows, c.textLen], "int32");
  const rand = mulberry32(o.seed);
  const codes = Array.from({ length: images }, () => new Int32Array(total).fill(-1));
  const useCache = o.useCache !== false;
  let cache: KVCache | undefined;
  let logits: tf.Tensor2D | undefined;
  try {
    for (let i = 0; i < total; i++) {
      if (useCache) {
        if (i === 0) {
          const first = model.prefill(prompts);
          logits = first.logits;
          cache = first.cache;
        } else {
          const last = tf.tensor1d(
            Array.from({ length: rows }, (_, r) => codes[r % images][i - 1]),
            "int32",
          );
          const next = model.extend(cache!, last, i - 1);
          last.dispose();
          logits?.dispose();
          logits = next.logits;
          cache = next.cache;
        }
      } else {
        const prefix = i
          ? tf.tensor2d(
              Array.from({ length: rows }, (_, r) => Array.from(codes[r % images].subarray(0, i))),
              [rows, i],
              "int32",
            )
          : null;
        logits?.dispose();
        logits = model.nextImageLogits(prompts, prefix);
        prefix?.dispose();
      }
      const values = (await logits!.data()) as Float32Array;
      const k = c.imageVocab;
      for (let r = 0; r < images; r++) {
        const cond = values.subarray(r * k, (r + 1) * k);
        const row = guided ? guide(cond, values.subarray((images + r) * k, (images + r + 1) * k), o.guidance) : cond;
        codes[r][i] = sampleToken(row, o, rand);
      }
      await o.onToken?.({ index: i, total, codes });
    }
  } finally {
    logits?.dispose();
    if (cache) disposeCache(cache);
    prompts.dispose();
  }
  return codes;
}
