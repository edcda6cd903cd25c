// `npm run eval:vq -- <checkpoint> [--data data/datasets/emoji] [--pca 16,32,64,128] [--json out.json]`
// Measures an image tokenizer on val and test — MSE, PSNR, SSIM, codebook usage and perplexity, bits per image —
// beside PCA baselines fitted on train (the linear autoencoder), prints a table and writes JSON.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { sequentialBatches } from "../lib/data/batches";
import { loadSplit, readManifest, type Split } from "../lib/data/manifest";
import type { Shard } from "../lib/data/shard";
import { CodeStats, MetricAccumulator, batchMetrics } from "../lib/model/metrics";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { evaluatePca, fitPca } from "./vq/pca";

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
  return { model: name, split, mse: s.mse, psnr: s.psnr, ssim: s.ssim, usage: codesSeen.usage(), perplexity: codesSeen.perplexity(), bitsPerImage: codesSeen.bitsPerImage(model.grid, model.grid) };
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

const USAGE = "usage: npm run eval:vq -- <checkpoint folder> [--data DIR] [--pca 16,32,64,128] [--json FILE]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  pca: z
    .string()
    .default("16,32,64,128")
    .transform((s) => (s === "none" ? [] : s.split(",").map(Number)))
    .pipe(z.array(z.number().int().min(1).max(512))),
  json: z.string().optional(),
});

runMain("eval:vq", async () => {
  const [dir, ...rest] = process.argv.slice(2);
  if (!dir || dir.startsWith("--")) throw new Error(USAGE);
  const flags = parseFlags(rest, Flags, USAGE);
  await initBackend();
  const { model, manifest } = VQModel.load(dir);
  const data = readManifest(flags.data);
  const size = model.config.imageSize;
  const splits = { val: loadSplit(flags.data, "val", size, data), test: loadSplit(flags.data, "test", size, data) };
  const rows: EvalRow[] = [];
  for (const split of ["val", "test"] as const) rows.push(evaluateTokenizer(model, splits[split], `${manifest.kind} ${model.grid}×${model.grid}×${model.config.codebookSize}`, split));
  if (flags.pca.length) {
    const started = performance.now();
    const pca = fitPca(loadSplit(flags.data, "train", size, data), Math.max(...flags.pca));
    console.log(`PCA fitted on train in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const k of flags.pca) {
      for (const split of ["val", "test"] as const) {
        const m = evaluatePca(pca, splits[split], k);
        rows.push({ model: `PCA k=${k}`, split, mse: m.mse, psnr: m.psnr, ssim: m.ssim, usage: null, perplexity: null, bitsPerImage: null });
      }
    }
  }
  console.log(formatTable(rows));
  const out = flags.json ?? path.join(dir, "eval.json");
  fs.writeFileSync(out, JSON.stringify({ checkpoint: dir, kind: manifest.kind, step: manifest.step, data: flags.data, rows }, null, 2) + "\n");
  console.log(`wrote ${out}`);
  model.dispose();
});
