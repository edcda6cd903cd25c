// Writes image codes one by one after a prompt: N images per prompt in one batch, classifier-free guidance with
// the <null> caption (cond and uncond rows share the batch), an engine (./decode-engine.ts: tfjs or ONNX Runtime,
// each with a KV cache so each token costs one incremental forward pass) and an onToken callback for streaming
// progress and partial images. The loop itself is ./sample-loop.ts (no tfjs in reach, so a page runs it too); this
// file picks the engine. It is the only sampling loop: the engines differ in arithmetic alone, so a seed
// gives the same codes on each unless a draw's uniform number falls within their float32 rounding (logits ~1e-6
// apart) of a boundary between two tokens' cumulative probabilities (on models/default about 1 draw in 10⁴).
// Several groups (one per job, each with its own prompts, n, seed and sampling settings) can share one pass: a
// batch of 8–16 rows costs far less per image than batch 1. Every group draws from its own mulberry32(seed) in the
// order it would alone and each row's logits depend only on that row, so a group's codes do not depend on what it
// was batched with (up to batch-size dependent float rounding, which the tests' tiny models do not show).
import { referenceEngine, tfjsEngine, type DecodeEngine } from "./decode-engine";
import { runSampleLoop, type GuidanceTerm, type SampleGroup } from "./sample-loop";
import type { SamplingFilter } from "./sampling";
import type { Transformer } from "./transformer";

export { drawGroups, layoutGroups, runSampleLoop, type GroupLayout, type GuidanceTerm, type SampleGroup } from "./sample-loop";
export type { SamplingFilter } from "./sampling";

/** "tfjs", "onnx" (the model's cached ONNX Runtime sessions), or an engine of the caller's, which it releases. */
export type SamplerEngine = "tfjs" | "onnx" | DecodeEngine;

interface EngineOptions {
  /** What runs the transformer; default "tfjs". */
  engine?: SamplerEngine;
  /**
   * Default true; false recomputes the whole sequence per token (referenceEngine, for tests and benchmarks). Only
   * tfjs has that path, so it is taken whatever `engine` says.
   */
  useCache?: boolean;
}

export interface SampleOptions extends SamplingFilter, EngineOptions {
  /** Images for this prompt. */
  n: number;
  /** Guidance scale s; 1 turns guidance off (no unconditional rows are run unless there are terms). */
  guidance: number;
  /** Composable guidance terms (./sample-loop.ts GuidanceTerm), one text per prompt each. */
  terms?: GuidanceTerm[];
  seed: number;
  /** Called after each token with the codes so far (row-major, -1 where not yet written). May be async. */
  onToken?: (progress: { index: number; total: number; codes: Int32Array[] }) => void | Promise<void>;
}

export interface GroupSampleOptions extends EngineOptions {
  /** Called after each token with every group's codes so far (group by group, as sampleImageCodesBatch's). */
  onToken?: (progress: { index: number; total: number; codes: Int32Array[][] }) => void | Promise<void>;
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
  const { engine, useCache, onToken, n, guidance, terms, seed, temperature, topK, topP } = o;
  const [codes] = await sampleImageCodeGroups(model, [{ texts, n, guidance, terms, seed, temperature, topK, topP }], nullText, {
    engine,
    useCache,
    onToken: onToken && ((p) => onToken({ index: p.index, total: p.total, codes: p.codes[0] })),
  });
  return codes;
}

/** The engine a sampling pass runs on (see EngineOptions). */
async function engineFor(model: Transformer, o: EngineOptions): Promise<DecodeEngine> {
  if (o.useCache === false) return referenceEngine(model);
  if (o.engine === undefined || o.engine === "tfjs") return tfjsEngine(model);
  // Loaded on first use: onnxruntime-node's native binary is not there on every platform (../generate/engine.ts).
  if (o.engine === "onnx") return (await import("./onnx/decoder-session")).onnxDecoderFor(model);
  return o.engine;
}

/** Several groups in one pass (see SampleGroup); returns each group's grids, as sampleImageCodesBatch would alone. */
export async function sampleImageCodeGroups(
  model: Transformer,
  groups: SampleGroup[],
  nullText: number[],
  o: GroupSampleOptions = {},
): Promise<Int32Array[][]> {
  return runSampleLoop(model.config, await engineFor(model, o), groups, nullText, o.onToken);
}
