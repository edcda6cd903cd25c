// sampleImageCodesBatch (../sample.ts) with the prefill and decode steps in ONNX Runtime: the same rows (n images
// per prompt, prompt-major, then as many <null>-caption rows under classifier-free guidance), the same guide and
// sampleToken draw per row (./sample-token.ts: the same arithmetic), one mulberry32 number per row per token in the
// same order, the same onToken callbacks. Only the transformer's arithmetic differs, so a seed gives the same codes
// unless a draw's uniform number falls within the two engines' float32 rounding (logits ~1e-6 apart) of a
// boundary between two tokens' cumulative probabilities: on models/default about 1 draw in 10⁴ (at temperature
// 1), after which that image goes its own way and the others, drawing one number per token each, do not.
import { mulberry32 } from "../../data/rng";
import { sampleImageCodesBatch, type SampleOptions } from "../sample";
import { guide } from "../sampling";
import type { Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { onnxDecoderFor, type OnnxDecoder } from "./decoder-session";
import { TokenSampler } from "./sample-token";

export interface OnnxSampleOptions extends SampleOptions {
  /** A decoder to use instead of the model's cached one (tests pass one with planted bugs). */
  decoder?: OnnxDecoder;
}

/** n grids of image codes for one tokenised prompt (see sampleImageCodesBatchOnnx). */
export async function sampleImageCodesOnnx(
  model: Transformer,
  text: number[],
  nullText: number[],
  o: OnnxSampleOptions,
): Promise<Int32Array[]> {
  return sampleImageCodesBatchOnnx(model, [text], nullText, o);
}

/**
 * `n` images for each of `texts`, returned prompt by prompt, exactly as sampleImageCodesBatch. `useCache: false`
 * asks for the full-recompute reference path, which only tfjs has: it is handed to sampleImageCodesBatch.
 */
export async function sampleImageCodesBatchOnnx(
  model: Transformer,
  texts: number[][],
  nullText: number[],
  o: OnnxSampleOptions,
): Promise<Int32Array[]> {
  if (o.useCache === false) return sampleImageCodesBatch(model, texts, nullText, o);
  const c = model.config;
  const total = imageTokens(c);
  if (texts.length < 1) throw new Error("sampleImageCodesBatch: no prompts");
  if (texts.some((t) => t.length !== c.textLen) || nullText.length !== c.textLen)
    throw new Error(`prompt ids must have length ${c.textLen}`);
  if (!Number.isInteger(o.n) || o.n < 1) throw new Error(`n must be a positive integer, got ${o.n}`);
  const decoder = o.decoder ?? (await onnxDecoderFor(model));
  const guided = o.guidance !== 1;
  const images = texts.length * o.n; // conditional rows, prompt-major
  const rows = guided ? 2 * images : images;
  const condRows = texts.flatMap((t) => Array(o.n).fill(t) as number[][]);
  const rand = mulberry32(o.seed);
  const codes = Array.from({ length: images }, () => new Int32Array(total).fill(-1));
  const k = c.imageVocab;
  const sampler = new TokenSampler(o);

  // The prompt in one ONNX pass: the first token's logits and the cache the steps then read.
  const first = await decoder.prefill([...condRows, ...(guided ? Array(images).fill(nullText) : [])]);
  const state = first.state;
  let values = first.logits; // [rows · K]
  const last = new Int32Array(rows);
  for (let i = 0; i < total; i++) {
    if (i > 0) {
      for (let r = 0; r < rows; r++) last[r] = codes[r % images][i - 1];
      values = await state.step(last, i - 1);
    }
    for (let r = 0; r < images; r++) {
      const cond = values.subarray(r * k, (r + 1) * k);
      const row = guided ? guide(cond, values.subarray((images + r) * k, (images + r + 1) * k), o.guidance) : cond;
      codes[r][i] = sampler.draw(row, rand);
    }
    await o.onToken?.({ index: i, total, codes });
  }
  return codes;
}
