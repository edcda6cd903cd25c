// Writes image codes one by one after a prompt: N images per prompt in one batch, classifier-free guidance with
// the <null> caption (cond and uncond rows share the batch), a KV cache so each token costs one incremental
// forward pass, and an onToken callback for streaming progress and partial images.
// Several groups (one per job, each with its own prompts, n, seed and sampling settings) can share one pass: a
// batch of 8–16 rows costs far less per image than batch 1. Every group draws from its own mulberry32(seed) in the
// order it would alone and each row's logits depend only on that row, so a group's codes do not depend on what it
// was batched with (up to batch-size dependent float rounding, which the tests' tiny models do not show).
import * as tf from "@tensorflow/tfjs";
import { mulberry32 } from "../data/rng";
import { guide, sampleToken, type SamplingFilter } from "./sampling";
import { disposeCache, type KVCache, type Transformer } from "./transformer";
import { imageTokens, type TransformerConfig } from "./transformer-config";

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

/** One group of a grouped batch (one job): its prompts, `n` images for each, its own seed and settings. */
export interface SampleGroup extends SamplingFilter {
  /** Tokenizer ids of length T_text (padded with <pad>), one list per prompt. */
  texts: number[][];
  n: number;
  /** 1: no <null> rows for this group. */
  guidance: number;
  seed: number;
}

export interface GroupSampleOptions {
  useCache?: boolean;
  /** Called after each token with every group's codes so far (group by group, as sampleImageCodesBatch's). */
  onToken?: (progress: { index: number; total: number; codes: Int32Array[][] }) => void | Promise<void>;
}

/** Where each group's rows sit in the batch: every group's conditional rows in group order, then the <null> rows. */
export interface GroupLayout {
  /** Prompt ids per batch row [rows][T_text]. */
  prompts: number[][];
  /** Per group: its first conditional row, its first <null> row (−1 unguided), its images. */
  groups: { cond: number; uncond: number; images: number }[];
  /** Per batch row: the group and image whose code it feeds back. */
  rowGroup: Int32Array;
  rowImage: Int32Array;
}

/**
 * Validates the groups and lays out their rows. With one group this is sampleImageCodesBatch's layout (n rows per
 * prompt, prompt-major, then as many <null> rows), so the single-group path runs exactly the batch it always did.
 */
export function layoutGroups(c: TransformerConfig, groups: SampleGroup[], nullText: number[]): GroupLayout {
  if (groups.length < 1 || groups.some((g) => g.texts.length < 1)) throw new Error("sampleImageCodesBatch: no prompts");
  if (groups.some((g) => g.texts.some((t) => t.length !== c.textLen)) || nullText.length !== c.textLen)
    throw new Error(`prompt ids must have length ${c.textLen}`);
  for (const g of groups) if (!Number.isInteger(g.n) || g.n < 1) throw new Error(`n must be a positive integer, got ${g.n}`);
  const prompts: number[][] = [];
  const owners: [number, number][] = [];
  const placed = groups.map((g, gi) => {
    const cond = prompts.length;
    for (const t of g.texts) for (let j = 0; j < g.n; j++) prompts.push(t);
    for (let j = 0; j < g.texts.length * g.n; j++) owners.push([gi, j]);
    return { cond, uncond: -1, images: g.texts.length * g.n };
  });
  groups.forEach((g, gi) => {
    if (g.guidance === 1) return;
    placed[gi].uncond = prompts.length;
    for (let j = 0; j < placed[gi].images; j++) {
      prompts.push(nullText);
      owners.push([gi, j]);
    }
  });
  return {
    prompts,
    groups: placed,
    rowGroup: Int32Array.from(owners, ([g]) => g),
    rowImage: Int32Array.from(owners, ([, j]) => j),
  };
}

/**
 * One token for every group from the batch's logits [rows · K]: each image's conditional row, guided by its <null>
 * row, drawn with `draw` from its own group's generator, images in order within a group (as alone).
 */
export function drawGroups(
  layout: GroupLayout,
  groups: SampleGroup[],
  values: Float32Array,
  k: number,
  i: number,
  codes: Int32Array[][],
  draw: (row: ArrayLike<number>, group: number) => number,
): void {
  layout.groups.forEach(({ cond: c0, uncond: u0, images }, g) => {
    for (let j = 0; j < images; j++) {
      const cond = values.subarray((c0 + j) * k, (c0 + j + 1) * k);
      const row = u0 < 0 ? cond : guide(cond, values.subarray((u0 + j) * k, (u0 + j + 1) * k), groups[g].guidance);
      codes[g][j][i] = draw(row, g);
    }
  });
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
  const { useCache, onToken, n, guidance, seed, temperature, topK, topP } = o;
  const [codes] = await sampleImageCodeGroups(model, [{ texts, n, guidance, seed, temperature, topK, topP }], nullText, {
    useCache,
    onToken: onToken && ((p) => onToken({ index: p.index, total: p.total, codes: p.codes[0] })),
  });
  return codes;
}

/** Several groups in one pass (see SampleGroup); returns each group's grids, as sampleImageCodesBatch would alone. */
export async function sampleImageCodeGroups(
  model: Transformer,
  groups: SampleGroup[],
  nullText: number[],
  o: GroupSampleOptions = {},
): Promise<Int32Array[][]> {
  const c = model.config;
  const total = imageTokens(c);
  const layout = layoutGroups(c, groups, nullText);
  const rows = layout.prompts.length;
  const prompts = tf.tensor2d(layout.prompts, [rows, c.textLen], "int32"); // [rows, T_text]
  const rands = groups.map((g) => mulberry32(g.seed));
  const codes = layout.groups.map((g) => Array.from({ length: g.images }, () => new Int32Array(total).fill(-1)));
  const fed = (r: number, i: number) => codes[layout.rowGroup[r]][layout.rowImage[r]][i];
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
            Array.from({ length: rows }, (_, r) => fed(r, i - 1)),
            "int32",
          ); // [rows]
          const next = model.extend(cache!, last, i - 1);
          last.dispose();
          logits?.dispose();
          logits = next.logits;
          cache = next.cache;
        }
      } else {
        const prefix = i
          ? tf.tensor2d(
              Array.from({ length: rows }, (_, r) => Array.from({ length: i }, (_, p) => fed(r, p))),
              [rows, i],
              "int32",
            ) // [rows, i]
          : null;
        logits?.dispose();
        logits = model.nextImageLogits(prompts, prefix);
        prefix?.dispose();
      }
      const values = (await logits!.data()) as Float32Array; // [rows · K]
      drawGroups(layout, groups, values, c.imageVocab, i, codes, (row, g) => sampleToken(row, groups[g], rands[g]));
      await o.onToken?.({ index: i, total, codes });
    }
  } finally {
    logits?.dispose();
    if (cache) disposeCache(cache);
    prompts.dispose();
  }
  return codes;
}
