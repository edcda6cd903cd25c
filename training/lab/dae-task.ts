// The denoising autoencoder (lib/model/dae.ts) as a training task (training/loop/task.ts): each step corrupts the
// batch afresh with the seeded corruption (lib/model/dae-corruption.ts; a new draw per step and replica) and the
// loss is the mean squared error of the reconstruction against the clean images. Validation corrupts the val split
// once, from a fixed seed, and reports PSNR of the corrupted input, of the DAE's output and of the DAE run on the
// clean images (what --denoise does to an upload that had no noise: it should be left as it is). The step also runs as
// one ONNX graph (./dae-native-step.ts), ORT's by default, fed the same corruption.
import * as tf from "@tensorflow/tfjs";
import { batchTensor, sequentialBatches } from "../../lib/data/batches";
import { hashString } from "../../lib/data/rng";
import { type Shard } from "../../lib/data/shard";
import { DAE } from "../../lib/model/dae";
import { DEFAULT_DAE_CONFIG, type DAEConfig } from "../../lib/model/dae-config";
import { corrupt, DEFAULT_CORRUPTION, validateCorruption, type CorruptionConfig } from "../../lib/model/dae-corruption";
import { psnrFromMse } from "../../lib/model/metrics";
import { imageGridPng, tensorToImages } from "../image-grid";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import { pixelsOf, planImages } from "../loop/image-batch";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { daeNativeStep } from "./dae-native-step";
import type { LabContext, LabModel } from "./models";

/** Named presets (training code only). */
export const DAE_PRESETS: Record<string, Partial<DAEConfig>> = {
  default: {},
  /** Seconds-scale model for tests and smoke runs. */
  tiny: { widths: [8, 16], resBlocks: 0 },
};

export const DAE_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 64,
  lr: 1e-3,
  warmup: 100,
  lrFloor: 0.05,
  checkpointEvery: 500,
  valEvery: 250,
});

/** The seed validation corrupts the val split with (fixed, so every validation sees the same x̃). */
export const DAE_VAL_SEED = 20081;

export interface DAETaskOptions {
  config: DAEConfig;
  corruption: CorruptionConfig;
  seed: number;
  train: Shard;
  val: Shard;
  sheet?: boolean;
}

export interface DenoiseScores {
  /** PSNR (dB) of the corrupted images against the clean ones: where the DAE starts. */
  noisyPsnr: number;
  /** PSNR of the DAE's output on the corrupted images. */
  denoisedPsnr: number;
  /** PSNR of the DAE's output on the clean images (100 = untouched). */
  cleanPsnr: number;
}

/** The DAE on a whole split, corrupted from `seed`: mean squared errors over all pixels, as PSNR. */
export async function scoreDenoiser(
  model: DAE,
  shard: Shard,
  corruption: CorruptionConfig,
  seed = DAE_VAL_SEED,
  batchSize = 128,
): Promise<DenoiseScores> {
  const sums = [0, 0, 0];
  let b = 0;
  for (const { images } of sequentialBatches(shard, batchSize)) {
    const t = tf.tidy(() => {
      const noisy = corrupt(images, corruption, hashString(`dae-val:${b}`, seed));
      const se = (x: tf.Tensor4D) => tf.sum(tf.square(tf.sub(x, images)));
      return tf.stack([se(noisy), se(model.denoise(noisy)), se(model.denoise(images))]);
    });
    b++;
    try {
      (await t.data()).forEach((v, i) => (sums[i] += v));
    } finally {
      tf.dispose([images, t]);
    }
  }
  const values = shard.count * shard.height * shard.width * shard.channels;
  const [noisyPsnr, denoisedPsnr, cleanPsnr] = sums.map((s) => Math.min(100, psnrFromMse(s / values)));
  return { noisyPsnr, denoisedPsnr, cleanPsnr };
}

/** Rows of val images: clean, corrupted (the validation's draw), the DAE's output on them, the DAE on the clean ones. */
export async function daeSheet(model: DAE, val: Shard, corruption: CorruptionConfig, file: string, cols = 12): Promise<void> {
  const n = Math.min(cols, val.count);
  const picks = Array.from({ length: n }, (_, i) => Math.floor((i * val.count) / n));
  const rows = tf.tidy(() => {
    const clean = batchTensor(val, picks); // [n, S, S, C] in [0, 1]
    // Every picked image corrupted (pClean 0), so the sheet always shows noise to remove.
    const noisy = corrupt(clean, { ...corruption, pClean: 0 }, DAE_VAL_SEED);
    return [clean, noisy, model.denoise(noisy), model.denoise(clean)];
  });
  try {
    const images: Uint8Array[] = [];
    for (const r of rows) images.push(...(await tensorToImages(r)));
    await imageGridPng(images, val.height, n, file);
  } finally {
    tf.dispose(rows);
  }
}

export const DAE_TASK_MODULE = new URL("./dae-task.ts", import.meta.url).href;

export function daeTaskDefinition(options: DAETaskOptions): TaskDefinition<DAETaskOptions> {
  return { module: DAE_TASK_MODULE, options };
}

export const createTask: CreateTask<DAETaskOptions> = async (o, role) => {
  validateCorruption(o.corruption);
  const model = new DAE(o.config, o.seed);
  // x̃ for a step's batch: a fresh draw per step and replica, the one both engines feed the network.
  const corrupted = (batch: Batch, ctx: StepContext) =>
    corrupt(tf.div(pixelsOf(batch, o.train), 255) as tf.Tensor4D, o.corruption, hashString(`dae:${ctx.step}:${ctx.replica}`, o.seed));
  const task: TrainTask & { model: DAE } = {
    model,
    kind: "dae",
    config: o.config,
    hyper: { initSeed: o.seed, corruption: o.corruption, valSeed: DAE_VAL_SEED, loss: "mean squared error against the clean image" },
    params: model.params,
    native: daeNativeStep(o.config, o.train, corrupted),
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    decays: (name) => name.endsWith(".w"),
    plan: (items: Int32Array): Batch => planImages(o.train, items),
    loss(batch: Batch, ctx: StepContext) {
      const clean = tf.div(pixelsOf(batch, o.train), 255) as tf.Tensor4D; // [B, H, W, C] in [0, 1]
      const noisy = corrupted(batch, ctx);
      const mse = tf.mean(model.loss(noisy, clean)) as tf.Scalar;
      return { loss: mse, logs: { noisyMse: tf.mean(tf.square(tf.sub(noisy, clean))) as tf.Scalar } };
    },
    async validate() {
      const s = await scoreDenoiser(model, o.val, o.corruption);
      return { valNoisyPsnr: s.noisyPsnr, valDenoisedPsnr: s.denoisedPsnr, valCleanPsnr: s.cleanPsnr };
    },
    sheet: o.sheet && role === "main" ? (file: string) => daeSheet(model, o.val, o.corruption, file) : undefined,
    dispose: () => model.dispose(),
  };
  return task;
};

export const labModel: LabModel = {
  summary:
    "dae: conv denoising autoencoder (residual output) trained on seeded upload damage (soft focus, noise, salt and pepper, JPEG); retrain --denoise",
  presets: ["default", "tiny"],
  trainerDefaults: DAE_TRAINER_DEFAULTS,
  exportDtype: "float16",
  definition: (ctx: LabContext) =>
    daeTaskDefinition({
      config: { ...DEFAULT_DAE_CONFIG, ...DAE_PRESETS[ctx.preset], imageSize: ctx.train.height, channels: ctx.train.channels },
      corruption: { ...DEFAULT_CORRUPTION },
      seed: ctx.seed,
      train: ctx.train,
      val: ctx.val,
      sheet: ctx.sheet,
    }),
};
