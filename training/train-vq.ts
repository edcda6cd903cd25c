// `npm run train:vq -- --kind vqvae|dvae|ae [--gan true] [--preset default|tiny|wide-decoder] [--minutes M | --steps N]
//   [--batch-size 64] [--seed 1] [--out runs/vqvae] [--resume] [--warm-start DIR] [--workers auto]
//   [--export models/image-tokenizer] [--keep-codes true --warm-start TOKENIZER]`
// Trains an image tokenizer (or the continuous "ae" baseline; --gan true makes a VQ-VAE a VQ-GAN) on the emoji
// corpus (`npm run data` first) on the shared training loop: on ONNX Runtime by default (the step as one native
// graph, lib/model/onnx/vq-training-graph.ts, a VQ-GAN's vqgan-training-graph.ts; --engine tfjs for tfjs replicas,
// both cores, data-parallel). Ctrl-C saves a checkpoint; --resume goes on from it. --export writes the
// model in float16 (without a VQ-GAN's discriminator). --keep-codes true trains only the decoder of the warm-start
// tokenizer (a new one when the preset's decoder differs), its encoder and codebook frozen: every image keeps its
// codes, so the transformer trained on them serves with the new decoder unchanged.
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { datasetHash, loadSplit, readManifest } from "../lib/data/manifest";
import { readCheckpointManifest, saveCheckpoint } from "../lib/model/checkpoint";
import { DISCRIMINATOR_PREFIX } from "../lib/model/discriminator";
import { DEFAULT_VQ_CONFIG, vqConfigFromManifest, type VQConfig } from "../lib/model/vq-config";
import { initBackend } from "../lib/tensor/backend";
import { registerFastGradients } from "../lib/tensor/gradients";
import { parseFlags, runMain } from "./cli";
import { TRAINER_FLAGS_USAGE, trainerConfigFrom, trainerFlags } from "./loop/config";
import { shared } from "./loop/task";
import { train } from "./loop/trainer";
import { DEFAULT_GAN_OPTIONS } from "./vq/gan";
import { createTask, DVAE_SCHEDULE, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./vq/task";

/** Named presets live here, in the training script, not in the model code. */
const PRESETS: Record<string, Partial<VQConfig>> = {
  default: {},
  /** Seconds-scale model for tests and smoke runs. */
  tiny: { encoderWidths: [16, 32], decoderWidths: [16, 32], outputWidth: 16, codebookSize: 64, embedDim: 16 },
  /** The decoder twice as wide (issue 31 part 3: "a wider decoder if the curve flattens"); the same codes and bits. */
  "wide-decoder": { decoderWidths: [96, 256], outputWidth: 64 },
};

const USAGE = `usage: npm run train:vq -- --kind vqvae|dvae|ae [--preset default|tiny|wide-decoder] [--out DIR] [--export DIR] [--codebook-size K] [--embed-dim D] [--padding edge|zero] [--restart-every N] [--hard-gumbel true|false] [--usage-weight W] [--final-temperature T] [--temperature-fraction F] [--kl-weight W] [--kl-warmup-fraction F] [--gan true [--gan-start N] [--disc-weight W] [--feature-weight W]] [--keep-codes true --warm-start DIR] ${TRAINER_FLAGS_USAGE}`;

const Flags = z.object({
  kind: z.enum(["vqvae", "dvae", "ae"]).default("vqvae"),
  codebookSize: z.coerce.number().int().min(2).max(65536).optional(),
  embedDim: z.coerce.number().int().min(1).max(1024).optional(),
  padding: z.enum(["zero", "edge"]).optional(),
  restartEvery: z.coerce.number().int().min(1).optional(),
  hardGumbel: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
  usageWeight: z.coerce.number().min(0).optional(),
  temperatureFraction: z.coerce.number().positive().max(1).default(DVAE_SCHEDULE.temperatureFraction),
  klWarmupFraction: z.coerce.number().positive().max(1).default(DVAE_SCHEDULE.klWarmupFraction),
  preset: z.enum(["default", "tiny", "wide-decoder"]).default("default"),
  data: z.string().default(path.join("data", "datasets", "emoji")),
  size: z.coerce.number().int().positive().default(32),
  out: z.string().optional(),
  export: z.string().optional(),
  finalTemperature: z.coerce.number().positive().max(1).default(DVAE_SCHEDULE.finalTemperature),
  /** dVAE: the Gumbel noise's scale at the end of the anneal (1 = sample q, 0 = decode its argmax). */
  finalNoise: z.coerce.number().min(0).max(1).default(DVAE_SCHEDULE.finalNoise),
  klWeight: z.coerce.number().min(0).default(DVAE_SCHEDULE.klWeight),
  gan: z.enum(["true", "false"]).default("false"),
  keepCodes: z
    .enum(["true", "false"])
    .default("false")
    .transform((v) => v === "true"),
  ganStart: z.coerce.number().int().min(0).default(DEFAULT_GAN_OPTIONS.start),
  discWeight: z.coerce.number().min(0).default(DEFAULT_GAN_OPTIONS.discWeight),
  featureWeight: z.coerce.number().min(0).default(DEFAULT_GAN_OPTIONS.featureWeight),
  ...trainerFlags(VQ_TRAINER_DEFAULTS),
});

runMain("train:vq", async () => {
  const flags = parseFlags(process.argv.slice(2), Flags, USAGE);
  if (flags.minutes === 0 && flags.steps === VQ_TRAINER_DEFAULTS.steps)
    throw new Error(`give a budget: --minutes M or --steps N\n${USAGE}`);
  const backend = await initBackend();
  registerFastGradients();
  const manifest = readManifest(flags.data);
  const train0 = loadSplit(flags.data, "train", flags.size, manifest);
  const val = loadSplit(flags.data, "val", flags.size, manifest);
  const overrides = Object.fromEntries(
    (["codebookSize", "embedDim", "padding", "restartEvery", "hardGumbel", "usageWeight"] as const)
      .filter((k) => flags[k] !== undefined)
      .map((k) => [k, flags[k]]),
  ) as Partial<VQConfig>;
  let config: VQConfig = { ...DEFAULT_VQ_CONFIG, ...PRESETS[flags.preset], ...overrides, kind: flags.kind, imageSize: flags.size };
  let freshDecoder = false;
  if (flags.keepCodes) {
    if (!flags.warmStart)
      throw new Error(`--keep-codes true trains a decoder for a tokenizer's codes: name it with --warm-start DIR\n${USAGE}`);
    // Everything that decides the codes is the warm start's; only the decoder's shape is this run's.
    const from = vqConfigFromManifest(readCheckpointManifest(flags.warmStart).config);
    const decoder = { decoderWidths: config.decoderWidths, outputWidth: config.outputWidth };
    freshDecoder = JSON.stringify(decoder) !== JSON.stringify({ decoderWidths: from.decoderWidths, outputWidth: from.outputWidth });
    config = { ...from, ...decoder };
    console.log(
      `keeping the codes of ${flags.warmStart}: encoder and codebook frozen; ${freshDecoder ? "a new decoder" : "its decoder"} (widths ${decoder.decoderWidths.join(", ")}, output ${decoder.outputWidth})`,
    );
  }
  const outDir = flags.out ?? path.join("runs", flags.kind);
  const dataHash = datasetHash(flags.data);
  const options: VQTaskOptions = {
    config,
    seed: flags.seed,
    train: { ...train0, data: shared(train0.data) },
    val: { ...val, data: shared(val.data) },
    finalTemperature: flags.finalTemperature,
    finalNoise: flags.finalNoise,
    temperatureFraction: flags.temperatureFraction,
    klWeight: flags.klWeight,
    klWarmupFraction: flags.klWarmupFraction,
    gan:
      flags.gan === "true"
        ? { ...DEFAULT_GAN_OPTIONS, start: flags.ganStart, discWeight: flags.discWeight, featureWeight: flags.featureWeight }
        : undefined,
    sheet: true,
    keepCodes: flags.keepCodes,
    freshDecoder,
  };
  const trainer = trainerConfigFrom(VQ_TRAINER_DEFAULTS, flags);
  console.log(
    `training ${flags.kind} (${flags.preset}) on ${train0.count} images at ${flags.size}×${flags.size}, backend ${backend.name}; checkpoints in ${outDir}`,
  );
  const task = await createTask(options, "main");
  try {
    const r = await train(task, trainer, { outDir, dataHash, definition: vqTaskDefinition(options), backend: backend.name });
    console.log(
      JSON.stringify({ kind: flags.kind, steps: r.step, workers: r.workers, imagesPerSecond: Math.round(r.itemsPerSecond), ...r.metrics }),
    );
    if (flags.export) {
      // The discriminator only trains the tokenizer: an export leaves it out.
      const weights = new Map([...task.params.all()].filter(([name]) => !name.startsWith(DISCRIMINATOR_PREFIX)));
      await saveCheckpoint(flags.export, weights, {
        kind: config.kind,
        config,
        metrics: { ...r.metrics, steps: r.step },
        dataHash,
        step: r.step,
        dtype: "float16",
        extra: { trainer, hyper: task.hyper },
      });
      console.log(`exported float16 model → ${flags.export}`);
    }
  } finally {
    task.dispose();
  }
});
