// `npm run train:vq -- --kind vqvae|dvae [--preset default|tiny] [--minutes M | --steps N] [--batch-size 64]
//   [--seed 1] [--out runs/vqvae] [--resume] [--export models/image-tokenizer]`
// Trains an image tokenizer on the emoji corpus (`npm run data` first). Ctrl-C saves a checkpoint; --resume goes on
// from it. --export writes the finished model in float16 for serving.
import path from "node:path";
import { z } from "zod";
import { loadSplit, readManifest } from "../lib/data/manifest";
import { sha256 } from "../lib/data/shard";
import { saveCheckpoint } from "../lib/model/checkpoint";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../lib/model/vq-config";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import fs from "node:fs";
import { flag, parseFlags, runMain } from "./cli";
import { reconstructionSheet } from "./vq/recon-sheet";
import { trainVQ } from "./vq/trainer";

/** Named presets live here, in the training script, not in the model code. */
const PRESETS: Record<string, Partial<VQConfig>> = {
  default: {},
  /** Seconds-scale model for tests and smoke runs. */
  tiny: { encoderWidths: [16, 32], decoderWidths: [16, 32], outputWidth: 16, codebookSize: 64, embedDim: 16 },
};

const USAGE = "usage: npm run train:vq -- --kind vqvae|dvae [--preset default|tiny] [--minutes M | --steps N] [--batch-size N] [--seed N] [--out DIR] [--resume] [--export DIR]";

const Flags = z.object({
  kind: z.enum(["vqvae", "dvae"]).default("vqvae"),
  preset: z.enum(["default", "tiny"]).default("default"),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  size: z.coerce.number().int().positive().default(32),
  batchSize: z.coerce.number().int().min(1).max(1024).default(64),
  steps: z.coerce.number().int().positive().default(1_000_000),
  minutes: z.coerce.number().positive().max(24 * 60).optional(),
  seed: z.coerce.number().int().min(0).default(1),
  lr: z.coerce.number().positive().max(1).default(2e-3),
  warmup: z.coerce.number().int().min(0).default(200),
  checkpointEvery: z.coerce.number().int().positive().default(500),
  out: z.string().optional(),
  resume: flag(),
  export: z.string().optional(),
  finalTemperature: z.coerce.number().positive().max(1).default(1 / 16),
  klWeight: z.coerce.number().min(0).default(5e-4),
});

runMain("train:vq", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (flags.minutes === undefined && flags.steps === 1_000_000) throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  const backend = await initBackend();
  registerFastGradients();
  const manifest = readManifest(flags.data);
  const train = loadSplit(flags.data, "train", flags.size, manifest);
  const val = loadSplit(flags.data, "val", flags.size, manifest);
  const config: VQConfig = { ...DEFAULT_VQ_CONFIG, ...PRESETS[flags.preset], kind: flags.kind, imageSize: flags.size };
  const outDir = flags.out ?? path.join("runs", flags.kind);
  const dataHash = sha256(fs.readFileSync(path.join(flags.data, "manifest.json")));
  console.log(`training ${flags.kind} (${flags.preset}) on ${train.count} images at ${flags.size}×${flags.size}, backend ${backend.name}; checkpoints in ${outDir}`);
  const result = await trainVQ({
    config,
    train,
    val,
    outDir,
    batchSize: flags.batchSize,
    steps: flags.steps,
    minutes: flags.minutes ?? 0,
    seed: flags.seed,
    lr: { peak: flags.lr, warmupSteps: flags.warmup, floor: 0.05 },
    checkpointEvery: flags.checkpointEvery,
    resume: flags.resume,
    dataHash,
    finalTemperature: flags.finalTemperature,
    klWeight: flags.klWeight,
    sheet: reconstructionSheet,
  });
  console.log(JSON.stringify({ kind: flags.kind, steps: result.step, imagesPerSecond: Math.round(result.imagesPerSecond), valPsnr: +result.val.psnr.toFixed(2), valUsage: +result.val.usage.toFixed(3) }));
  if (flags.export) {
    await saveCheckpoint(flags.export, result.model.params.all(), { kind: config.kind, config, metrics: { valPsnr: result.val.psnr, valUsage: result.val.usage, steps: result.step }, dataHash, step: result.step, dtype: "float16" });
    console.log(`exported float16 model → ${flags.export}`);
  }
  result.model.dispose();
});
