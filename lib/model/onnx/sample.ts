// sampleImageCodesBatch (../sample.ts) with the decode steps in ONNX Runtime: the same rows (n images per prompt,
// prompt-major, then as many <null>-caption rows under classifier-free guidance), the same prefill (tfjs, once),
// the same guide → sampleToken per row with the same mulberry32 draws in the same order, the same onToken
// callbacks. Only the arithmetic of steps 1..N-1 runs elsewhere, so a seed gives the same codes unless two
// candidates' float32 logits differ by less than the two engines' rounding (~1e-6) at a draw's boundary.
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../../data/rng";
import { sampleImageCodesBatch, type SampleOptions } from "../sample";
import { guide, sampleToken } from "../sampling";
import { disposeCache, type Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { onnxDecoderFor, type OnnxDecoder } from "./decoder-session";

export interface OnnxSampleOptions extends SampleOptions {
  /** A decoder to use instead of the model's cached one (tests pass one with planted bugs). */
  decoder?: OnnxDecoder;
}

/** n grids of image codes for one tokenised prompt (see sampleImageCodesBatchOnnx). */
export async function sampleImageCodesOnnx(model: Transformer, text: number[], nullText: number[], o: OnnxSampleOptions): Promise<Int32Array[]> {
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

  // Prefill in tfjs: one pass over the prompt, whose cache the ONNX steps then read.
  const prompts = tf.tensor2d([...condRows, ...(guided ? Array(images).fill(nullText) : [])], [rows, c.textLen], "int32");
  let values: Float32Array;
  let state;
  const first = model.prefill(prompts);
  try {
    state = await decoder.start(first.cache);
    values = (await first.logits.data()) as Float32Array;
  } finally {
    first.logits.dispose();
    disposeCache(first.cache);
    prompts.dispose();
  }

  const last = new Int32Array(rows);
  for (let i = 0; i < total; i++) {
    if (i > 0) {
      for (let r = 0; r < rows; r++) last[r] = codes[r % images][i - 1];
      values = await state.step(last, i - 1);
    }
    for (let r = 0; r < images; r++) {
      const cond = values.subarray(r * k, (r + 1) * k);
      const row = guided ? guide(cond, values.subarray((images + r) * k, (images + r + 1) * k), o.guidance) : cond;
      codes[r][i] = sampleToken(row, o, rand);
    }
    await o.onToken?.({ index: i, total, codes });
  }
  return codes;
}
