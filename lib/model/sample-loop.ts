// The one sampling loop of ./sample.ts, with no tfjs in reach: the layout of a grouped batch, each group's draws
// from its own mulberry32(seed), and the token-by-token loop over a DecodeEngine. ./sample.ts runs it on the
// server's engines; a page runs it on onnxruntime-web (lib/browser/), so a seed gives the browser the very codes
// the server would draw. Only types are imported from ./decode-engine.ts (which holds tfjs): they vanish at build.
import { mulberry32 } from "../data/rng";
import type { DecodeEngine } from "./decode-engine";
import { guide, sampleToken, type SamplingFilter } from "./sampling";
import { imageTokens, type TransformerConfig } from "./transformer-config";

/**
 * A further conditioning of composable guidance (Liu et al. 2022, "Compositional Visual Generation with Composable
 * Diffusion Models", eq. 10, read for logits): ℓ = ℓ_null + s·(ℓ_prompt − ℓ_null) + Σ weight·(ℓ_term − ℓ_null). E.g.
 * the prompt's label alone beside "label, style" (training/eval-compose.ts). NOTE: on models/default a label–style
 * pair never trained on draws its label far more often from the label alone than from the whole caption, whose style
 * pulls the picture towards what was seen in that style; mixing the two trades the label for the style and back
 * (docs/transformer/README.md), so the server does not use terms.
 */
export interface GuidanceTerm {
  /** Tokenizer ids of length T_text, one list per prompt of the group (the term for that prompt). */
  texts: number[][];
  weight: number;
}

/** One group of a grouped batch (one job): its prompts, `n` images for each, its own seed and settings. */
export interface SampleGroup extends SamplingFilter {
  /** Tokenizer ids of length T_text (padded with <pad>), one list per prompt. */
  texts: number[][];
  n: number;
  /** 1: no <null> rows for this group (unless it has terms). */
  guidance: number;
  /** Composable guidance terms (see GuidanceTerm); none by default. */
  terms?: GuidanceTerm[];
  seed: number;
  /**
   * Image priming: the codes of the first grid positions (row-major) every image of this group starts with, e.g.
   * the top rows of a source image's codes. They are fed to the model as sampled codes are and kept as given;
   * sampling starts after them.
   */
  prefix?: ArrayLike<number>;
}

/** Where each group's rows sit in the batch: every group's conditional rows in group order, then the <null> rows. */
export interface GroupLayout {
  /** Prompt ids per batch row [rows][T_text]. */
  prompts: number[][];
  /** Per group: its first conditional row, its first <null> row (−1 unguided), each term's first row, its images. */
  groups: { cond: number; uncond: number; terms: number[]; images: number }[];
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
  for (const g of groups) {
    if (!Number.isInteger(g.n) || g.n < 1) throw new Error(`n must be a positive integer, got ${g.n}`);
    if (!(g.temperature > 0)) throw new Error(`temperature must be > 0, got ${g.temperature}`);
    for (const t of g.terms ?? []) {
      if (t.texts.length !== g.texts.length)
        throw new Error(`a guidance term needs one text per prompt: ${t.texts.length} for ${g.texts.length}`);
      if (t.texts.some((x) => x.length !== c.textLen)) throw new Error(`prompt ids must have length ${c.textLen}`);
      if (!Number.isFinite(t.weight)) throw new Error(`a guidance term's weight must be a number, got ${t.weight}`);
    }
    const p = g.prefix ?? [];
    if (p.length > imageTokens(c)) throw new Error(`prefix: ${p.length} codes for a grid of ${imageTokens(c)}`);
    for (let i = 0; i < p.length; i++)
      if (!Number.isInteger(p[i]) || p[i] < 0 || p[i] >= c.imageVocab)
        throw new Error(`prefix codes must be integers in [0, ${c.imageVocab}), got ${p[i]} at ${i}`);
  }
  const prompts: number[][] = [];
  const owners: [number, number][] = [];
  const placed = groups.map((g, gi) => {
    const cond = prompts.length;
    for (const t of g.texts) for (let j = 0; j < g.n; j++) prompts.push(t);
    for (let j = 0; j < g.texts.length * g.n; j++) owners.push([gi, j]);
    return { cond, uncond: -1, terms: [] as number[], images: g.texts.length * g.n };
  });
  groups.forEach((g, gi) => {
    if (g.guidance === 1 && !g.terms?.length) return;
    placed[gi].uncond = prompts.length;
    for (let j = 0; j < placed[gi].images; j++) {
      prompts.push(nullText);
      owners.push([gi, j]);
    }
  });
  // Each term's rows after every <null> row, laid out as the group's conditional rows (prompt-major, n per prompt).
  groups.forEach((g, gi) =>
    (g.terms ?? []).forEach((t) => {
      placed[gi].terms.push(prompts.length);
      for (const text of t.texts) for (let j = 0; j < g.n; j++) prompts.push(text);
      for (let j = 0; j < placed[gi].images; j++) owners.push([gi, j]);
    }),
  );
  return {
    prompts,
    groups: placed,
    rowGroup: Int32Array.from(owners, ([g]) => g),
    rowImage: Int32Array.from(owners, ([, j]) => j),
  };
}

/**
 * One token at position `i` for every group from the batch's logits [rows · K]: each image's conditional row,
 * guided by its <null> row, drawn with sampleToken from its own group's generator, images in order within a group
 * (as alone). Inside a group's prefix the given code stays, but each image still takes its one number: the stream
 * is positional, so a group primed with the codes it would have drawn anyway draws the rest as it would unprimed.
 */
export function drawGroups(
  layout: GroupLayout,
  groups: SampleGroup[],
  values: Float32Array,
  k: number,
  i: number,
  codes: Int32Array[][],
  rands: (() => number)[],
): void {
  const rowAt = (first: number) => values.subarray(first * k, (first + 1) * k);
  layout.groups.forEach(({ cond: c0, uncond: u0, terms, images }, g) => {
    const primed = i < (groups[g].prefix?.length ?? 0);
    for (let j = 0; j < images; j++) {
      if (primed) {
        rands[g]();
        continue;
      }
      const cond = rowAt(c0 + j);
      const row = u0 < 0 ? cond : guide(cond, rowAt(u0 + j), groups[g].guidance);
      terms.forEach((t0, ti) => {
        const [term, uncond, w] = [rowAt(t0 + j), rowAt(u0 + j), groups[g].terms![ti].weight];
        for (let v = 0; v < k; v++) row[v] += w * (term[v] - uncond[v]);
      });
      codes[g][j][i] = sampleToken(row, groups[g], rands[g]);
    }
  });
}

/**
 * Samples every group's grids on `engine`, position by position: the prompts in one prefill, then one step per
 * image token; `onToken` sees every group's codes so far (−1 where not yet written) after each token.
 */
export async function runSampleLoop(
  c: TransformerConfig,
  engine: DecodeEngine,
  groups: SampleGroup[],
  nullText: number[],
  onToken?: (progress: { index: number; total: number; codes: Int32Array[][] }) => void | Promise<void>,
): Promise<Int32Array[][]> {
  const total = imageTokens(c);
  const layout = layoutGroups(c, groups, nullText);
  const rows = layout.prompts.length;
  const rands = groups.map((g) => mulberry32(g.seed));
  const codes = layout.groups.map(({ images }, g) =>
    Array.from({ length: images }, () => {
      const grid = new Int32Array(total).fill(-1); // [h·w], row-major
      grid.set(groups[g].prefix ?? []);
      return grid;
    }),
  );
  // The prompts in one pass: the first token's logits and the state the steps then continue.
  const first = await engine.prefill(layout.prompts);
  const { state } = first;
  try {
    let values = first.logits; // [rows · K]
    const last = new Int32Array(rows); // [rows]: each row's code at the previous position, drawn or given
    for (let i = 0; i < total; i++) {
      if (i > 0) {
        for (let r = 0; r < rows; r++) last[r] = codes[layout.rowGroup[r]][layout.rowImage[r]][i - 1];
        values = await state.step(last, i - 1);
      }
      drawGroups(layout, groups, values, c.imageVocab, i, codes, rands);
      await onToken?.({ index: i, total, codes });
    }
  } finally {
    state.dispose();
  }
  return codes;
}
