// `npm run eval:vq -- <checkpoint> [--data data/datasets/emoji] [--pca 16,32,64,128] [--json out.json]`
// Measures an image tokenizer on val and test — MSE, PSNR, SSIM, codebook usage and perplexity, bits per image —
// beside PCA baselines fitted on train (the linear autoencoder), prints a table and writes JSON.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { loadSplit, readManifest } from "../lib/data/manifest";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { evaluatePca, fitPca } from "./vq/pca";
import { evaluateTokenizer, formatTable, type EvalRow } from "./vq/evaluate";

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
  for (const split of ["val", "test"] as const)
    rows.push(evaluateTokenizer(model, splits[split], `${manifest.kind} ${model.grid}×${model.grid}×${model.config.codebookSize}`, split));
  if (flags.pca.length) {
    const started = performance.now();
    const pca = fitPca(loadSplit(flags.data, "train", size, data), Math.max(...flags.pca));
    console.log(`PCA fitted on train in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const k of flags.pca) {
      for (const split of ["val", "test"] as const) {
        const m = evaluatePca(pca, splits[split], k);
        rows.push({
          model: `PCA k=${k}`,
          split,
          mse: m.mse,
          psnr: m.psnr,
          ssim: m.ssim,
          usage: null,
          perplexity: null,
          bitsPerImage: null,
        });
      }
    }
  }
  console.log(formatTable(rows));
  const out = flags.json ?? path.join(dir, "eval.json");
  fs.writeFileSync(
    out,
    JSON.stringify({ checkpoint: dir, kind: manifest.kind, step: manifest.step, data: flags.data, rows }, null, 2) + "\n",
  );
  console.log(`wrote ${out}`);
  model.dispose();
});
