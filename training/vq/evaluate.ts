// Scores an image tokenizer on a split: reconstruction MSE/PSNR/SSIM (as served: codes → clipped pixels), a
// sharpness ratio, how the codebook is used, what its codes cost the transformer in bits, and the retrieval
// ceiling (whether a reconstruction is still recognisably its own label). Shared by `npm run eval:vq` and the
// retraining pipeline.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import type { Split } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { CodeStats, MetricAccumulator, batchGradientMagnitude, batchMetrics } from "../../lib/model/metrics";
import type { VQModel } from "../../lib/model/vq-model";
import { mean, score, topK, zeroScores, type Scores } from "../gpt/eval-sets";
import type { CodeGridModel } from "./code-entropy";

export interface EvalRow {
  model: string;
  split: Split;
  mse: number;
  psnr: number;
  ssim: number;
  /** Mean gradient magnitude of the reconstructions / of the real images (1 = as sharp; blur < 1). */
  sharpness: number;
  usage: number | null;
  perplexity: number | null;
  /** log2 K × h × w: the fixed-length cost of one image's codes. */
  bitsPerImage: number | null;
  /** Bits per image under a unigram / row-bigram model of the train split's codes (see code-entropy.ts). */
  unigramBits: number | null;
  bigramBits: number | null;
  /** Share of reconstructions whose nearest real image carries the right (exact / family) label. */
  ceiling: Scores | null;
}

/** The nearest-neighbour pool of the retrieval ceiling: every real image of the corpus and its label. */
export interface RetrievalPool {
  corpusT: tf.Tensor2D; // [D, M]
  corpusSq: tf.Tensor1D; // [M]
  labels: readonly string[];
}

export interface EvalExtras {
  /** Code counts fitted on the train split, for the bits-per-image estimates. */
  codeModel?: CodeGridModel;
  /** With the labels of this split's images, in order. */
  retrieval?: RetrievalPool & { splitLabels: readonly string[] };
  batchSize?: number;
}

/** Codes of every image of a shard, [N·h·w] row-major (for fitting a CodeGridModel). */
export function encodeAll(model: VQModel, shard: Shard, batchSize = 128): Int32Array {
  const out = new Int32Array(shard.count * model.grid * model.grid);
  let at = 0;
  for (const { images } of sequentialBatches(shard, batchSize)) {
    const codes = model.encode(images);
    const data = codes.dataSync() as Int32Array;
    out.set(data, at);
    at += data.length;
    tf.dispose([images, codes]);
  }
  return out;
}

export function evaluateTokenizer(model: VQModel, shard: Shard, name: string, split: Split, extras: EvalExtras = {}): EvalRow {
  const acc = new MetricAccumulator();
  const discrete = model.discrete;
  const codesSeen = new CodeStats(model.config.codebookSize);
  const allCodes: number[] = [];
  const hits = zeroScores();
  let gradRecon = 0;
  let gradReal = 0;
  let offset = 0;
  for (const { images } of sequentialBatches(shard, extras.batchSize ?? 128)) {
    const { reconstruction: recon, codes } = model.roundTrip(images);
    const m = batchMetrics(recon, images);
    acc.add(images.shape[0], m.mse, m.ssim);
    gradRecon += batchGradientMagnitude(recon);
    gradReal += batchGradientMagnitude(images);
    if (discrete) {
      const data = codes.dataSync();
      codesSeen.add(data);
      if (extras.codeModel) for (const c of data) allCodes.push(c);
    }
    const r = extras.retrieval;
    if (r) {
      const flat = tf.reshape(recon, [images.shape[0], -1]) as tf.Tensor2D; // [B, S·S·C]
      topK(flat, r.corpusT, r.corpusSq, 5).forEach((nb, i) => score(hits, nb, r.labels, r.splitLabels[offset + i]));
      flat.dispose();
    }
    offset += images.shape[0];
    tf.dispose([images, recon, codes]);
  }
  const s = acc.summary();
  const bits = discrete && extras.codeModel ? extras.codeModel.bitsPerImage(allCodes) : null;
  return {
    model: name,
    split,
    mse: s.mse,
    psnr: s.psnr,
    ssim: s.ssim,
    sharpness: gradRecon / gradReal,
    usage: discrete ? codesSeen.usage() : null,
    perplexity: discrete ? codesSeen.perplexity() : null,
    bitsPerImage: discrete ? codesSeen.bitsPerImage(model.grid, model.grid) : null,
    unigramBits: bits?.unigram ?? null,
    bigramBits: bits?.rowBigram ?? null,
    ceiling: extras.retrieval ? mean(hits, shard.count) : null,
  };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const num = (v: number | null, digits = 0) => (v === null ? "—" : v.toFixed(digits));

export function formatTable(rows: EvalRow[]): string {
  const head = [
    "model",
    "split",
    "MSE",
    "PSNR dB",
    "SSIM",
    "sharp",
    "usage",
    "perplexity",
    "bits/img",
    "unigram",
    "bigram",
    "ceil ex@1",
    "ceil fam@1",
  ];
  const cells = rows.map((r) => [
    r.model,
    r.split,
    r.mse.toFixed(5),
    r.psnr.toFixed(2),
    r.ssim.toFixed(3),
    r.sharpness.toFixed(2),
    pct(r.usage),
    num(r.perplexity),
    num(r.bitsPerImage),
    num(r.unigramBits),
    num(r.bigramBits),
    pct(r.ceiling?.exact1),
    pct(r.ceiling?.family1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}
