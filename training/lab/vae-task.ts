// The VAE (lib/model/vae.ts) as a training task (training/loop/task.ts): the negative ELBO per pixel value as the
// loss (the same optimum as per image; Adam sees numbers near 1), with the KL weight ramped from 0 to 1 over the
// first `klWarmupFraction` of the budget (Bowman et al. 2016; Sønderby et al. 2016) so the decoder learns to use z
// before the KL can switch latents off. Validation reports the true bound (weight 1) on the whole val split, in
// nats/image and bits/dim, beside the diagonal-Gaussian pixel baseline in the same units. The step also runs as one
// ONNX graph (./vae-native-step.ts), ORT's by default, fed the same ε and KL weight.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { hashString } from "../../lib/data/rng";
import { type Shard } from "../../lib/data/shard";
import { VAE } from "../../lib/model/vae";
import { DEFAULT_VAE_CONFIG, pixelDims, type VAEConfig } from "../../lib/model/vae-config";
import { bitsPerDim } from "../../lib/model/vae-elbo";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import type { LabContext, LabModel } from "./models";
import { fitPixelGaussian, pixelGaussianNll } from "./pixel-baseline";
import { pixelsOf, planImages } from "../loop/image-batch";
import { vaeNativeStep, type VaeStep } from "./vae-native-step";
import { vaeSheet } from "./vae-sheet";

/** Named presets (training code only). The AAE (./aae-task.ts) borrows default and tiny: keep them Gaussian. */
const TINY: Partial<VAEConfig> = { widths: [8, 8, 16], latentDim: 16 };
export const VAE_PRESETS: Record<string, Partial<VAEConfig>> = {
  default: {},
  /** Seconds-scale model for tests and smoke runs. */
  tiny: TINY,
  // The other likelihoods (lib/model/vae-config.ts) at each size.
  logistic: { likelihood: "logistic" },
  floored: { likelihood: "gaussian-floored" },
  "tiny-logistic": { ...TINY, likelihood: "logistic" },
  "tiny-floored": { ...TINY, likelihood: "gaussian-floored" },
  fixed: { likelihood: "gaussian-fixed" },
  "tiny-fixed": { ...TINY, likelihood: "gaussian-fixed" },
};

export const VAE_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 64,
  lr: 2e-3,
  warmup: 200,
  lrFloor: 0.05,
  // A learned per-pixel variance makes the odd batch with a surprising pixel pull hard: clip the global norm.
  clip: 5,
  checkpointEvery: 500,
  valEvery: 250,
});

export interface VAETaskOptions {
  config: VAEConfig;
  seed: number;
  train: Shard;
  val: Shard;
  klWarmupFraction: number;
  sheet?: boolean;
}

/**
 * A step's KL weight (ramped from 0 to 1 over the warm-up) and the seed of its ε (per step and replica): what both
 * engines read, the tfjs loss through VAE.terms and the native step as its feeds (./vae-native-step.ts).
 */
export function vaeStep(o: Pick<VAETaskOptions, "klWarmupFraction" | "seed">, ctx: StepContext): VaeStep {
  return {
    klWeight: Math.min(1, ctx.progress / Math.max(o.klWarmupFraction, 1e-9)),
    noiseSeed: hashString(`vae:${ctx.step}:${ctx.replica}`, o.seed),
  };
}

/** Active units (Burda et al. 2016): latent dimensions whose posterior mean varies over the data, Var_x(μ_j) > 0.01. */
function activeUnits(mus: Float32Array, d: number): number {
  const n = mus.length / d;
  let active = 0;
  for (let j = 0; j < d; j++) {
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = mus[i * d + j];
      s += v;
      s2 += v * v;
    }
    if (s2 / n - (s / n) ** 2 > 0.01) active++;
  }
  return active;
}

/** The negative ELBO (KL weight 1, one seeded z per image) over the whole split, and its parts. */
export async function validateVae(model: VAE, val: Shard, batchSize = 128) {
  let negElbo = 0;
  let kl = 0;
  const mus: Float32Array[] = [];
  let b = 0;
  for (const { images } of sequentialBatches(val, batchSize)) {
    const t = model.terms(images, hashString(`val:${b++}`));
    const sums = tf.tidy(() => tf.stack([tf.sum(t.negElbo), tf.sum(t.kl)]));
    const [e, k] = await sums.data();
    negElbo += e;
    kl += k;
    mus.push((await t.mu.data()) as Float32Array);
    tf.dispose([images, sums, t.negElbo, t.nll, t.kl, t.mu]);
  }
  const all = new Float32Array(mus.reduce((n, m) => n + m.length, 0));
  mus.reduce((at, m) => (all.set(m, at), at + m.length), 0);
  const nats = negElbo / val.count;
  return { nats, bitsPerDim: bitsPerDim(nats, model.dims), kl: kl / val.count, activeUnits: activeUnits(all, model.latentDim) };
}

export const VAE_TASK_MODULE = new URL("./vae-task.ts", import.meta.url).href;

export function vaeTaskDefinition(options: VAETaskOptions): TaskDefinition<VAETaskOptions> {
  return { module: VAE_TASK_MODULE, options };
}

export const createTask: CreateTask<VAETaskOptions> = async (o, role) => {
  const model = new VAE(o.config, o.seed);
  const dims = pixelDims(o.config);
  // The baseline is fitted once, on the main thread, at the first validation.
  let baseline: { nats: number; bitsPerDim: number } | null = null;
  const task: TrainTask & { model: VAE } = {
    model,
    kind: "vae",
    config: o.config,
    hyper: {
      klWarmupFraction: o.klWarmupFraction,
      initSeed: o.seed,
      likelihood: {
        "gaussian-learned": "per-pixel Gaussian (learned σ²) on uniformly dequantised 8-bit pixels",
        "gaussian-floored": `per-pixel Gaussian (learned σ ≥ ${o.config.minPixelStd}) on uniformly dequantised 8-bit pixels`,
        "gaussian-fixed": `per-pixel Gaussian (σ = ${o.config.minPixelStd}) on uniformly dequantised 8-bit pixels`,
        logistic: "per-pixel discretised logistic (learned scale) over the 256 levels",
      }[o.config.likelihood],
    },
    params: model.params,
    // The same step as `loss` below as one ONNX graph, ORT's by default (every likelihood).
    native: vaeNativeStep(o.config, o.train, (ctx) => vaeStep(o, ctx)),
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    decays: () => true,
    plan: (items: Int32Array): Batch => planImages(o.train, items),
    loss(batch: Batch, ctx: StepContext) {
      const images = tf.div(pixelsOf(batch, o.train), 255) as tf.Tensor4D; // [B, H, W, C] in [0, 1]
      const { klWeight, noiseSeed } = vaeStep(o, ctx);
      const t = model.terms(images, noiseSeed, klWeight);
      return {
        loss: tf.div(tf.mean(t.negElbo), dims) as tf.Scalar,
        logs: {
          // The bound itself (KL weight 1), whatever the warm-up does to the loss.
          bpd: tf.div(tf.mean(tf.add(t.nll, t.kl)), dims * Math.LN2) as tf.Scalar,
          kl: tf.mean(t.kl) as tf.Scalar,
        },
      };
    },
    async validate() {
      const v = await validateVae(model, o.val);
      baseline ??= pixelGaussianNll(fitPixelGaussian(o.train, o.config.minLogVar), o.val);
      return {
        valNegElbo: v.nats,
        valBitsPerDim: v.bitsPerDim,
        valKl: v.kl,
        valActiveUnits: v.activeUnits,
        baselineNll: baseline.nats,
        baselineBitsPerDim: baseline.bitsPerDim,
      };
    },
    sheet: o.sheet && role === "main" ? (file: string) => vaeSheet(model, o.val, file) : undefined,
    dispose: () => model.dispose(),
  };
  return task;
};

export const labModel: LabModel = {
  summary: "vae: conv VAE, flat 128-d latent, per-pixel Gaussian or discretised logistic likelihood (lib/model/vae.ts)",
  presets: ["default", "tiny", "logistic", "floored", "fixed", "tiny-logistic", "tiny-floored", "tiny-fixed"],
  trainerDefaults: VAE_TRAINER_DEFAULTS,
  exportDtype: "float16",
  definition: (ctx: LabContext) =>
    vaeTaskDefinition({
      config: { ...DEFAULT_VAE_CONFIG, ...VAE_PRESETS[ctx.preset], imageSize: ctx.train.height, channels: ctx.train.channels },
      seed: ctx.seed,
      train: ctx.train,
      val: ctx.val,
      klWarmupFraction: 0.1,
      sheet: ctx.sheet,
    }),
};
