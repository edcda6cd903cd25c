// Completion (issue 32 part 5): how well the transformer finishes a picture from its top rows — DALL·E's
// image-conditional generation, the top of a source image's codes given as a prefix (lib/model/sample.ts
// SampleGroup.prefix) — against the same prompt with no prefix. A finished picture is scored by its nearest real
// images (./eval-sets.ts) against the *source's* label, and by its distance to the source picture.
import * as tf from "@tensorflow/tfjs";
import { batchTensor } from "../../lib/data/batches";
import type { CaptionRecord } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import type { GroupSampler } from "../../lib/generate/engine";
import type { SamplingFilter } from "../../lib/model/sample";
import type { Transformer } from "../../lib/model/transformer";
import type { VQModel } from "../../lib/model/vq-model";
import type { TextTokenizer } from "../../lib/text/tokenizer";
import { tensorToImages } from "../image-grid";
import { labelOf, mean, score, zeroScores, type Scores } from "./eval-sets";
import type { RetrievalPool } from "./eval-context";

export interface CompletionSetting extends SamplingFilter {
  guidance: number;
}

export interface CompletionRow extends Scores {
  /** Code rows kept from the source (0: the prompt alone, no priming). */
  keepRows: number;
  /** Mean absolute difference to the source picture, levels 0–255, over the whole picture. */
  pixelDistance: number;
  /** Share of pictures whose kept codes are exactly the source's (1 unless the sampler broke priming). */
  keptExact: number;
}

export interface CompletionRun {
  rows: CompletionRow[];
  /** For the contact sheet: per keepRows, the decoded pictures, source-major ([source][image], RGB bytes). */
  pictures: Map<number, Uint8Array[][]>;
}

export interface CompletionArgs {
  gpt: Transformer;
  vq: VQModel;
  tok: TextTokenizer;
  sources: CaptionRecord[];
  shard: Shard;
  keepRows: number[];
  images: number;
  setting: CompletionSetting;
  seed: number;
  batch: number;
  sample: GroupSampler;
  pool: RetrievalPool;
  /** How many sources' pictures to keep for the sheet. */
  keepPictures?: number;
  onChunk?: (done: number) => void;
}

/** The sources' codes under the model's image tokenizer, [P][h·w] row-major. */
export function sourceCodesOf(vq: VQModel, shard: Shard, sources: CaptionRecord[]): Int32Array[] {
  const n = vq.grid * vq.grid;
  const flat = tf.tidy(
    () =>
      vq
        .encode(
          batchTensor(
            shard,
            sources.map((r) => r.index),
          ),
        )
        .dataSync() as Int32Array, // [P, h, w]
  );
  return sources.map((_, i) => flat.slice(i * n, (i + 1) * n));
}

/** Runs every keepRows (and 0, the unprimed baseline) over the sources: the same seeds for every row count. */
export async function runCompletion(a: CompletionArgs): Promise<CompletionRun> {
  const { gpt, vq, tok, sources, shard, images } = a;
  const textLen = gpt.config.textLen;
  const nul = tok.encodeNull(textLen);
  const codes = sourceCodesOf(vq, shard, sources);
  const real = tf.tidy(() =>
    tf.reshape(
      batchTensor(
        shard,
        sources.map((r) => r.index),
      ),
      [sources.length, -1],
    ),
  ) as tf.Tensor2D; // [P, S·S·3] in [0, 1]
  const rows: CompletionRow[] = [];
  const pictures = new Map<number, Uint8Array[][]>();
  try {
    for (const keep of [0, ...a.keepRows]) {
      const s = zeroScores();
      let distance = 0;
      let kept = 0;
      const sheet: Uint8Array[][] = [];
      for (let start = 0; start < sources.length; start += a.batch) {
        const chunk = sources.slice(start, start + a.batch);
        const prefixes = chunk.map((_, i) => codes[start + i].slice(0, keep * vq.grid));
        const groups = chunk.map((r, i) => ({
          texts: [tok.encode(r.caption, textLen).ids],
          n: images,
          ...a.setting,
          // One seed per source, the same whatever keepRows: the rows differ only by what was kept.
          seed: a.seed * 100_003 + start + i,
          prefix: keep > 0 ? prefixes[i] : undefined,
        }));
        const out = await a.sample(gpt, groups, nul); // [group][image] grids
        out.forEach((grids, i) => grids.forEach((g) => (kept += prefixes[i].every((v, j) => g[j] === v) ? 1 : 0)));
        const flat = out.flat();
        const decoded = vq.decodeCodes(flat); // [P·n, S, S, 3]
        const q = tf.reshape(decoded, [flat.length, -1]) as tf.Tensor2D; // [P·n, S·S·3]
        try {
          a.pool.neighbours(q).forEach((nb, j) => score(s, nb, a.pool.labels, labelOf(chunk[Math.floor(j / images)])));
          // Each picture against its own source: rows of `real` repeated `images` times.
          const sourceRows = Array.from({ length: flat.length }, (_, j) => start + Math.floor(j / images));
          distance += tf.tidy(() => tf.sum(tf.mean(tf.abs(tf.sub(q, tf.gather(real, sourceRows))), 1)).dataSync()[0] * 255);
          const wanted = Math.min(chunk.length, (a.keepPictures ?? 0) - start);
          if (wanted > 0) {
            const imgs = await tensorToImages(decoded);
            for (let i = 0; i < wanted; i++) sheet.push(imgs.slice(i * images, (i + 1) * images));
          }
        } finally {
          tf.dispose([decoded, q]);
        }
        a.onChunk?.(chunk.length);
      }
      const total = sources.length * images;
      rows.push({ keepRows: keep, ...mean(s, total), pixelDistance: distance / total, keptExact: kept / total });
      pictures.set(keep, sheet);
    }
  } finally {
    real.dispose();
  }
  return { rows, pictures };
}

/** The source's decoded codes with the rows that were not kept greyed out: what the sampler was given. */
export async function keptPreview(vq: VQModel, codes: Int32Array, keepRows: number): Promise<Uint8Array> {
  const size = vq.config.imageSize;
  const decoded = vq.decodeCodes([codes]); // [1, S, S, 3]
  const [out] = await tensorToImages(decoded);
  decoded.dispose();
  const from = (keepRows * size) / vq.grid; // first pixel row not kept
  out.fill(200, from * size * 3);
  return out;
}
