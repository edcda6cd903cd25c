// `npm run eval:vq -- <checkpoint> [<checkpoint> …] [--names a,b,…] [--data data/datasets/emoji]
//   [--pca 16,32,64,128] [--json out.json] [--markdown out.md] [--sheet out.png]`
// One table over every image tokenizer given (VQ-VAE, dVAE, VQ-GAN, the continuous AE baseline) beside PCA
// baselines fitted on train (the linear autoencoder), on val and test: MSE, PSNR, SSIM, sharpness, codebook usage
// and perplexity, the bits per image the transformer must model (fixed length, unigram, row bigram; fitted on the
// train split's codes) and the retrieval ceiling (does a reconstruction's nearest real image carry its label?).
// --sheet draws val originals above each model's reconstructions, one row per model.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { captionsFor, loadSplit, readCaptions, readManifest, SPLITS, type Split } from "../lib/data/manifest";
import type { Shard } from "../lib/data/shard";
import { VQModel } from "../lib/model/vq-model";
import { initBackend } from "../lib/tensor/backend";
import { parseArgs, runMain } from "./cli";
import { labelOf } from "./gpt/eval-sets";
import { flatten } from "./gpt/eval-sets";
import { CodeGridModel } from "./vq/code-entropy";
import { encodeAll, evaluateTokenizer, formatTable, type EvalRow, type RetrievalPool } from "./vq/evaluate";
import { evaluatePca, fitPca } from "./vq/pca";
import { comparisonSheet } from "./vq/recon-sheet";

const USAGE =
  "usage: npm run eval:vq -- <checkpoint folder> [<checkpoint folder> …] [--names a,b,…] [--data DIR] [--pca 16,32,64,128|none] [--json FILE] [--markdown FILE] [--sheet FILE.png]";
const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  names: z
    .string()
    .transform((s) => s.split(","))
    .optional(),
  pca: z
    .string()
    .default("16,32,64,128")
    .transform((s) => (s === "none" ? [] : s.split(",").map(Number)))
    .pipe(z.array(z.number().int().min(1).max(512))),
  json: z.string().optional(),
  markdown: z.string().optional(),
  sheet: z.string().optional(),
});

runMain("eval:vq", async () => {
  const { positional: dirs, flags } = parseArgs(process.argv.slice(2), Flags, USAGE);
  if (flags.names && flags.names.length !== dirs.length)
    throw new Error(`--names gives ${flags.names.length} names for ${dirs.length} checkpoints\n${USAGE}`);
  for (const dir of dirs)
    if (!fs.existsSync(path.join(dir, "manifest.json"))) throw new Error(`${dir}: no manifest.json (not a checkpoint folder)`);
  await initBackend();
  const data = readManifest(flags.data);
  const records = readCaptions(flags.data);
  const labels = Object.fromEntries(SPLITS.map((s) => [s, captionsFor(records, s).map(labelOf)])) as Record<Split, string[]>;

  const rows: EvalRow[] = [];
  const models: { name: string; model: VQModel }[] = [];
  let size = 0;
  let shards = {} as Record<Split, Shard>;
  let pool: RetrievalPool | null = null;
  try {
    for (const [i, dir] of dirs.entries()) {
      const { model, manifest } = VQModel.load(dir);
      const name = flags.names?.[i] ?? `${manifest.kind} ${path.basename(dir)}`;
      models.push({ name, model });
      if (!size) {
        size = model.config.imageSize;
        shards = Object.fromEntries(SPLITS.map((s) => [s, loadSplit(flags.data, s, size, data)])) as Record<Split, Shard>;
        const corpus = tf.concat(SPLITS.map((s) => flatten(shards[s]))) as tf.Tensor2D; // [M, S·S·C]
        pool = {
          corpusT: tf.transpose(corpus) as tf.Tensor2D,
          corpusSq: tf.sum(tf.square(corpus), 1) as tf.Tensor1D,
          labels: SPLITS.flatMap((s) => labels[s]),
        };
        corpus.dispose();
      } else if (model.config.imageSize !== size)
        throw new Error(`${dir} works at ${model.config.imageSize} px, the first checkpoint at ${size}`);
      const started = performance.now();
      const codeModel = model.discrete
        ? new CodeGridModel(model.config.codebookSize, model.grid).fit(encodeAll(model, shards.train))
        : undefined;
      for (const split of ["val", "test"] as const)
        rows.push(evaluateTokenizer(model, shards[split], name, split, { codeModel, retrieval: { ...pool!, splitLabels: labels[split] } }));
      console.log(`${name}: evaluated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (flags.pca.length) {
      const started = performance.now();
      const pca = fitPca(shards.train, Math.max(...flags.pca));
      console.log(`PCA fitted on train in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      for (const k of flags.pca)
        for (const split of ["val", "test"] as const) {
          const m = evaluatePca(pca, shards[split], k);
          rows.push({
            model: `PCA k=${k}`,
            split,
            ...m,
            usage: null,
            perplexity: null,
            bitsPerImage: null,
            unigramBits: null,
            bigramBits: null,
            ceiling: null,
          });
        }
    }
    const table = formatTable(rows);
    console.log(table);
    const out = flags.json ?? path.join(dirs[0], "eval.json");
    fs.writeFileSync(out, JSON.stringify({ checkpoints: dirs, names: models.map((m) => m.name), data: flags.data, rows }, null, 2) + "\n");
    console.log(`wrote ${out}`);
    if (flags.markdown) fs.writeFileSync(flags.markdown, table + "\n");
    if (flags.sheet) {
      await comparisonSheet(models, shards.val, flags.sheet);
      console.log(`wrote ${flags.sheet} (rows: real, ${models.map((m) => m.name).join(", ")})`);
    }
  } finally {
    for (const m of models) m.model.dispose();
    if (pool) tf.dispose([pool.corpusT, pool.corpusSq]);
  }
});
