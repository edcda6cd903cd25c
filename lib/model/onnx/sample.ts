// The ONNX Runtime entry points of the one sampling loop (../sample.ts) with engine "onnx": the same rows, draws,
// random order and onToken calls as on tfjs, the prefill and decode steps run by OnnxDecoder
// (./decoder-session.ts) instead of Transformer.prefill / extend. `useCache: false` asks for the full-recompute
// reference path, which only tfjs has: the loop takes it whatever the engine.
import { sampleImageCodeGroups, sampleImageCodesBatch, type GroupSampleOptions, type SampleGroup, type SampleOptions } from "../sample";
import type { Transformer } from "../transformer";
import type { OnnxDecoder } from "./decoder-session";

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

/** `n` images for each of `texts`, returned prompt by prompt, exactly as sampleImageCodesBatch. */
export async function sampleImageCodesBatchOnnx(
  model: Transformer,
  texts: number[][],
  nullText: number[],
  { decoder, ...o }: OnnxSampleOptions,
): Promise<Int32Array[]> {
  return sampleImageCodesBatch(model, texts, nullText, { ...o, engine: decoder ?? "onnx" });
}

/** sampleImageCodeGroups on ONNX Runtime: each group's grids, as sampleImageCodesBatchOnnx would give them alone. */
export async function sampleImageCodeGroupsOnnx(
  model: Transformer,
  groups: SampleGroup[],
  nullText: number[],
  { decoder, ...o }: OnnxGroupSampleOptions = {},
): Promise<Int32Array[][]> {
  return sampleImageCodeGroups(model, groups, nullText, { ...o, engine: decoder ?? "onnx" });
}
