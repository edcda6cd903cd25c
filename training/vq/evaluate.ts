// Scores an image tokenizer on a split: reconstruction MSE/PSNR/SSIM (as served: codes → clipped pixels) and how
// the codebook is used. Shared by `npm run eval:vq` and the retraining pipeline.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import type { Split } from "../../lib/data/manifest";
import type { Shard } from "../../lib/data/shard";
import { CodeStats, MetricAccumulator, batchMetrics } from "../../lib/model/metrics";
import type { VQModel } from "../../lib/model/vq-model";

export interface EvalRow {
  model: string;
  split: Split;
  mse: number;
  psnr: number;
  ssim: number;
  usage: number | null;
  perplexity: number | null;
  bitsPerImage: number | null;
}

export function evaluateTokenizer(model: VQModel, shard: Shard, name: string, split: Split, batchSize = 128): EvalRow {
  const acc = new MetricAccumulator();
  const codesSeen = new CodeStats(model.config.codebookSize);
  for (const { images } of sequentialBatches(shard, batchSize)) {
    const codes = model.encode(images);
    const recon = model.decode(codes);
    const m = batchMetrics(recon, images);
    acc.add(images.shape[0], m.mse, m.ssim);
    codesSeen.add(codes.dataSync());
    tf.dispose([images, codes, recon]);
  }
  const s = acc.summary();
  return {
    model: name,
    split,
    mse: s.mse,
    psnr: s.psnr,
    ssim: s.ssim,
    usage: codesSeen.usage(),
    perplexity: codesSeen.perplexity(),
    bitsPerImage: codesSeen.bitsPerImage(model.grid, model.grid),
  };
}

export function formatTable(rows: EvalRow[]): string {
  const head = ["model", "split", "MSE", "PSNR dB", "SSIM", "usage", "perplexity", "bits/img"];
  const cells = rows.map((r) => [
    r.model,
    r.split,
    r.mse.toFixed(5),
    r.psnr.toFixed(2),
    r.ssim.toFixed(3),
    r.usage === null ? "—" : `${(r.usage * 100).toFixed(1)}%`,
    r.perplexity === null ? "—" : r.perplexity.toFixed(0),
    r.bitsPerImage === null ? "—" : String(Math.round(r.bitsPerImage)),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(" | ")} |`;
  return [line(head), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}
