// sampleImageCodesBatch (../sample.ts) with the prefill and decode steps in ONNX Runtime: the same rows (n images
// per prompt, prompt-major, then as many <null>-caption rows under classifier-free guidance), the same guide and
// sampleToken draw per row (./sample-token.ts: the same arithmetic), one mulberry32 number per row per token in the
// same order, the same onToken callbacks. Only the transformer's arithmetic differs, so a seed gives the same codes
// unless a draw's uniform number falls within the two engines' float32 rounding (logits ~1e-6 apart) of a
// boundary between two tokens' cumulative probabilities: on models/default about 1 draw in 10⁴ (at temperature
// 1), after which that image goes its own way and the others, drawing one number per token each, do not.
// Grouped batches (one group per job, ../sample.ts sampleImageCodeGroups) share its layout and per-group draws.
import { mulberry32 } from "../../data/rng";
import { drawGroups, layoutGroups, sampleImageCodeGroups, type GroupSampleOptions, type SampleGroup, type SampleOptions } from "../sample";
import type { Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { onnxDecoderFor, type OnnxDecoder } from "./decoder-session";
import { TokenSampler } from "./sample-token";

export interface OnnxSampleOptions extends SampleOptions {
  /** A decoder to use instead of the model's cached one (tests pass one with planted bugs). */
  decoder?: OnnxDecoder;
}

export interface OnnxGroupSampleOptions extends GroupSampleOptions {
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
  const { useCache, onToken, decoder, n, guidance, seed, temperature, topK, topP } = o;
  const [codes] = await sampleImageCodeGroupsOnnx(model, [{ texts, n, guidance, seed, temperature, topK, topP }], nullText, {
    useCache,
    decoder,
    onToken: onToken && ((p) => onToken({ index: p.index, total: p.total, codes: p.codes[0] })),
  });
  return codes;
}

/** sampleImageCodeGroups on ONNX Runtime: each group's grids, as sampleImageCodesBatchOnnx would give them alone. */
export async function sampleImageCodeGroupsOnnx(
  model: Transformer,
  groups: SampleGroup[],
  nullText: number[],
  o: OnnxGroupSampleOptions = {},
): Promise<Int32Array[][]> {
  if (o.useCache === false) return sampleImageCodeGroups(model, groups, nullText, o);
  const c = model.config;
  const total = imageTokens(c);
  const layout = layoutGroups(c, groups, nullText);
  const decoder = o.decoder ?? (await onnxDecoderFor(model));
  const rows = layout.prompts.length;
  const rands = groups.map((g) => mulberry32(g.seed));
  // One sampler per group: each has its own temperature and filters (and its own scratch buffer).
  const samplers = groups.map((g) => new TokenSampler(g));
  const codes = layout.groups.map((g) => Array.from({ length: g.images }, () => new Int32Array(total).fill(-1)));

  // The prompts in one ONNX pass: the first token's logits and the cache the steps then read.
  const first = await decoder.prefill(layout.prompts);
  const state = first.state;
  let values = first.logits; // [rows · K]
  const last = new Int32Array(rows); // [rows]
  for (let i = 0; i < total; i++) {
    if (i > 0) {
      for (let r = 0; r < rows; r++) last[r] = codes[layout.rowGroup[r]][layout.rowImage[r]][i - 1];
      values = await state.step(last, i - 1);
    }
    drawGroups(layout, groups, values, c.imageVocab, i, codes, (row, g) => samplers[g].draw(row, rands[g]));
    await o.onToken?.({ index: i, total, codes });
  }
  return codes;
}
