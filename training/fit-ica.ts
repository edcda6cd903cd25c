// `npm run fit:ica -- [--data data/datasets/emoji] [--size 32] [--k 64] [--m 8,16] [--seed 0] [--sample N]
//   [--max-iter 200] [--tol 1e-4] [--export models/default/lab/ica] [--json FILE]`
// Fits PCA(k) and FastICA(k) (training/lab/ica.ts) on the emoji train images and compares them on val: the full-k
// reconstruction (the same for both: ICA rotates inside the PCA subspace), the reconstruction from each image's m
// largest terms (where they differ: ICA's sparse code against PCA's orthonormal one), and the excess kurtosis of
// the coefficients (the non-Gaussianity ICA maximises). Prints one JSON line. --export writes the lab folder:
// manifest.json (config, flat metrics, data hash), table.json (every m) and samples.png (the components of both,
// then val originals with their top-m reconstructions).
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { z } from "zod";
import { batchTensor } from "../lib/data/batches";
import { datasetHash, loadSplit, readManifest } from "../lib/data/manifest";
import { mulberry32, shuffleInPlace } from "../lib/data/rng";
import { imageBytes, type Shard } from "../lib/data/shard";
import { initBackend } from "../lib/tensor/backend";
import { parseFlags, runMain } from "./cli";
import { imageGridPng, tensorToImages } from "./image-grid";
import { fitIca } from "./lab/ica";
import { codeProjector, evaluateCode, icaCode, pcaCode, type CodeEvaluation, type LinearCode } from "./lab/linear-code";
import { fitPca } from "./vq/pca";

const USAGE =
  "usage: npm run fit:ica -- [--data DIR] [--size 32] [--k 64] [--m 8,16] [--seed 0] [--sample N] [--max-iter 200] [--tol 1e-4] [--export DIR] [--json FILE]";
const SHEET_COLS = 16;

const Flags = z.object({
  data: z.string().default(path.join("data", "datasets", "emoji")),
  size: z.coerce.number().int().positive().default(32),
  k: z.coerce.number({ error: "a positive integer" }).int().positive().default(64),
  m: z
    .string()
    .default("8,16")
    .transform((s, ctx) => {
      const v = s.split(",").map((x) => Number(x.trim()));
      if (!v.length || v.some((x) => !Number.isInteger(x) || x < 1))
        ctx.addIssue({ code: "custom", message: `a comma-separated list of positive integers, got "${s}"` });
      return v;
    }),
  seed: z.coerce.number().int().nonnegative().default(0),
  sample: z.coerce.number().int().positive().optional(),
  maxIter: z.coerce.number().int().positive().default(200),
  tol: z.coerce.number().positive().default(1e-4),
  export: z.string().optional(),
  json: z.string().optional(),
});

runMain("fit:ica", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  const tooBig = flags.m.find((m) => m > flags.k);
  if (tooBig !== undefined) throw new Error(`--m: every m must be ≤ --k ${flags.k}, got ${tooBig}\n${USAGE}`);
  const backend = await initBackend();
  const manifest = readManifest(flags.data);
  const trainAll = loadSplit(flags.data, "train", flags.size, manifest);
  const val = loadSplit(flags.data, "val", flags.size, manifest);
  const train = subsample(trainAll, flags.sample, flags.seed);
  if (flags.k > imageBytes(train)) throw new Error(`--k ${flags.k} exceeds the image dimension ${imageBytes(train)}`);
  console.error(
    `fitting PCA and FastICA (k = ${flags.k}) on ${train.count} train images at ${flags.size}×${flags.size}, backend ${backend.name}`,
  );

  let t = performance.now();
  const pca = fitPca(train, flags.k, { seed: flags.seed });
  const pcaSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const ica = fitIca(train, pca, { seed: flags.seed, maxIter: flags.maxIter, tol: flags.tol });
  const icaSeconds = (performance.now() - t) / 1000;
  if (!ica.converged) console.error(`FastICA did not converge in ${flags.maxIter} iterations; the result is the last iterate`);

  const codes = { pca: pcaCode(pca), ica: icaCode(ica) };
  const evals = { pca: evaluateCode(codes.pca, val, flags.m), ica: evaluateCode(codes.ica, val, flags.m) };
  const meanAbs = (e: CodeEvaluation) => e.kurtosis.reduce((s, q) => s + Math.abs(q), 0) / e.kurtosis.length;
  const rows = flags.m.map((m, i) => ({
    m,
    pcaMse: evals.pca.topM[i].mse,
    pcaPsnr: evals.pca.topM[i].psnr,
    icaMse: evals.ica.topM[i].mse,
    icaPsnr: evals.ica.topM[i].psnr,
  }));
  const result = {
    k: flags.k,
    m: flags.m,
    size: flags.size,
    seed: flags.seed,
    trainImages: train.count,
    valImages: val.count,
    pcaValMse: evals.pca.mse,
    pcaValPsnr: evals.pca.psnr,
    icaValMse: evals.ica.mse,
    icaValPsnr: evals.ica.psnr,
    topM: rows,
    pcaKurtosis: meanAbs(evals.pca),
    icaKurtosis: meanAbs(evals.ica),
    pcaExplainedFraction: pca.explainedVariance.reduce((s, v) => s + v, 0) / pca.totalVariance,
    icaIterations: ica.iterations,
    icaConverged: ica.converged,
    pcaFitSeconds: pcaSeconds,
    icaFitSeconds: icaSeconds,
  };
  const line = JSON.stringify(result);
  console.log(line);
  if (flags.json) {
    fs.mkdirSync(path.dirname(flags.json), { recursive: true });
    fs.writeFileSync(flags.json, line + "\n");
  }

  if (flags.export) {
    fs.mkdirSync(flags.export, { recursive: true });
    const dataHash = datasetHash(flags.data);
    const exported = {
      kind: "ica",
      config: { k: flags.k, m: flags.m[0], size: flags.size, seed: flags.seed, contrast: "logcosh" },
      metrics: {
        pcaValPsnr: result.pcaValPsnr,
        icaValPsnr: result.icaValPsnr,
        pcaTopMPsnr: rows[0].pcaPsnr,
        icaTopMPsnr: rows[0].icaPsnr,
        pcaKurtosis: result.pcaKurtosis,
        icaKurtosis: result.icaKurtosis,
        icaIterations: ica.iterations,
        k: flags.k,
        m: flags.m[0],
      },
      dataHash,
      step: ica.iterations,
    };
    fs.writeFileSync(path.join(flags.export, "manifest.json"), JSON.stringify(exported, null, 2) + "\n");
    const table = {
      k: flags.k,
      trainImages: train.count,
      valImages: val.count,
      full: { pcaMse: result.pcaValMse, pcaPsnr: result.pcaValPsnr, icaMse: result.icaValMse, icaPsnr: result.icaValPsnr },
      rows,
      kurtosis: { pca: evals.pca.kurtosis, ica: evals.ica.kurtosis },
      explainedVariance: { pca: pca.explainedVariance, ica: ica.explainedVariance, total: pca.totalVariance },
    };
    fs.writeFileSync(path.join(flags.export, "table.json"), JSON.stringify(table, null, 2) + "\n");
    await sheet(path.join(flags.export, "samples.png"), codes, val, flags.m);
    console.error(`exported ica → ${flags.export} (manifest.json, table.json, samples.png)`);
  }
});

/**
 * Rows of PCA atoms (by variance), rows of ICA atoms (by the variance they carry), each min–max normalised on its
 * own so its shape shows whatever its scale; then val originals and, for each m, their PCA and ICA top-m
 * reconstructions. Every section starts on a new row.
 */
async function sheet(file: string, codes: Record<"pca" | "ica", LinearCode>, val: Shard, ms: number[]): Promise<void> {
  const { dim } = codes.pca;
  const blank = new Uint8Array(dim).fill(255);
  const pad = (images: Uint8Array[]) => [
    ...images,
    ...Array.from({ length: (SHEET_COLS - (images.length % SHEET_COLS)) % SHEET_COLS }, () => blank),
  ];
  const atoms = (code: LinearCode) =>
    Array.from({ length: code.k }, (_, i) => {
      const a = code.atoms.subarray(i * dim, (i + 1) * dim);
      let lo = Infinity,
        hi = -Infinity;
      for (const v of a) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      return Uint8Array.from(a, (v) => Math.round((255 * (v - lo)) / (hi - lo || 1)));
    });
  const picks = Array.from({ length: Math.min(SHEET_COLS, val.count) }, (_, i) =>
    Math.floor((i * val.count) / Math.min(SHEET_COLS, val.count)),
  );
  const images = batchTensor(val, picks);
  const projectors = { pca: codeProjector(codes.pca), ica: codeProjector(codes.ica) };
  const tiles = [...pad(atoms(codes.pca)), ...pad(atoms(codes.ica))];
  try {
    tiles.push(...pad(await tensorToImages(images)));
    for (const m of ms)
      for (const name of ["pca", "ica"] as const) {
        const rec = projectors[name].reconstruct(images, m);
        tiles.push(...pad(await tensorToImages(rec)));
        rec.dispose();
      }
  } finally {
    tf.dispose(images);
    projectors.pca.dispose();
    projectors.ica.dispose();
  }
  await imageGridPng(tiles, val.height, SHEET_COLS, file);
}

/** A seeded random subset of the shard's images (all of them without a limit), in file order. */
function subsample(shard: Shard, limit: number | undefined, seed: number): Shard {
  if (limit === undefined || limit >= shard.count) return shard;
  const n = imageBytes(shard);
  const rows = shuffleInPlace(
    Array.from({ length: shard.count }, (_, i) => i),
    mulberry32(seed ^ 0x1ca),
  )
    .slice(0, limit)
    .sort((a, b) => a - b);
  const data = new Uint8Array(limit * n);
  rows.forEach((r, i) => data.set(shard.data.subarray(r * n, (r + 1) * n), i * n));
  return { ...shard, count: limit, data };
}
