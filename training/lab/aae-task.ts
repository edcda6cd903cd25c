// The adversarial autoencoder (lib/model/aae.ts) as a training task (training/loop/task.ts): the reconstruction
// term −log p(x|z) per pixel value (the VAE's, so the two compare) plus the encoder's adversarial loss, ramped in
// over the first `advWarmupFraction` of the budget as the VAE ramps in its KL, plus the latent discriminator's own
// loss (one scalar, each player's gradient kept to its own parameters by stop-gradients). Validation reports the
// reconstruction term on val, how close the aggregate posterior is to N(0, I) (per-dimension mean and standard
// deviation of the codes, which should be 0 and 1) and D's accuracy (0.5 = it cannot tell codes from the prior). The
// step also runs as one ONNX graph (./aae-native-step.ts), ORT's by default, fed the same noise and weights.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { hashString } from "../../lib/data/rng";
import type { Shard } from "../../lib/data/shard";
import { AAE, DEFAULT_AAE_CONFIG, LATENT_DISC_PREFIX, type AAEConfig } from "../../lib/model/aae";
import { pixelDims } from "../../lib/model/vae-config";
import { bitsPerDim } from "../../lib/model/vae-elbo";
import type { TrainerConfig } from "../loop/config";
import { pixelsOf, planImages } from "../loop/image-batch";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { aaeNativeStep, type AaeStep } from "./aae-native-step";
import type { LabContext, LabModel } from "./models";
import { VAE_PRESETS, VAE_TRAINER_DEFAULTS } from "./vae-task";
import { vaeSheet } from "./vae-sheet";

/** Named presets (training code only): the VAE's, so the comparison is between objectives, not networks. */
export const AAE_PRESETS: Record<string, Partial<AAEConfig>> = {
  default: { ...(VAE_PRESETS.default as Partial<AAEConfig>) },
  tiny: { ...(VAE_PRESETS.tiny as Partial<AAEConfig>), discHidden: 32 },
};

export const AAE_TRAINER_DEFAULTS: Readonly<TrainerConfig> = VAE_TRAINER_DEFAULTS;

export interface AAETaskOptions {
  config: AAEConfig;
  seed: number;
  train: Shard;
  val: Shard;
  /**
   * λ: weight of the encoder's adversarial loss in nats per image, the units of the reconstruction term (and of the
   * VAE's KL, which it replaces). The loss is (−log p(x|z) + λ·(−log D(z)))/D per pixel value. NOTE: λ = 0.1·D
   * (the first try, 307 nats) let the encoder outrun D within 200 steps (D's val accuracy 0.5, train accuracy 0.01:
   * the codes kept jumping to wherever D said "prior"); λ = 10 let D win (val accuracy 0.997 at step 750, the codes'
   * std 0.30 per dimension against the prior's 1: a plain autoencoder); λ = 50 with D a plain MLP let the codes
   * run off again (their mean 1.6 per dimension by step 250), which D's quadratic term (lib/model/aae.ts) stops.
   */
  advWeight: number;
  advWarmupFraction: number;
  sheet?: boolean;
}

/** The reconstruction term and the aggregate posterior's fit to N(0, I) over a whole split. */
export async function validateAae(model: AAE, val: Shard, batchSize = 128) {
  let nll = 0;
  let acc = 0;
  const d = model.latentDim;
  const s1 = new Float64Array(d);
  const s2 = new Float64Array(d);
  let b = 0;
  for (const { images } of sequentialBatches(val, batchSize)) {
    const t = model.terms(images, hashString(`aae-val:${b++}`));
    const nllSum = tf.sum(t.nll);
    try {
      nll += (await nllSum.data())[0];
      acc += (await t.discAccuracy.data())[0] * images.shape[0];
      const z = (await t.z.data()) as Float32Array;
      for (let i = 0; i < z.length; i++) {
        s1[i % d] += z[i];
        s2[i % d] += z[i] * z[i];
      }
    } finally {
      tf.dispose([images, nllSum, t.nll, t.z, t.generator, t.discriminator, t.discAccuracy]);
    }
  }
  let meanAbs = 0;
  let std = 0;
  for (let j = 0; j < d; j++) {
    const m = s1[j] / val.count;
    meanAbs += Math.abs(m) / d;
    std += Math.sqrt(Math.max(0, s2[j] / val.count - m * m)) / d;
  }
  const nats = nll / val.count;
  return {
    nllNats: nats,
    nllBitsPerDim: bitsPerDim(nats, pixelDims(model.config)),
    zMeanAbs: meanAbs,
    zStd: std,
    discAccuracy: acc / val.count,
  };
}

/**
 * A step's generator weight (λ, ramped in over the warm-up, per pixel value) and the seed of AAE.terms' noise (per
 * step and replica): what both engines read, the tfjs loss and the native step as its feeds (./aae-native-step.ts).
 */
export function aaeStep(o: Pick<AAETaskOptions, "config" | "seed" | "advWeight" | "advWarmupFraction">, ctx: StepContext): AaeStep {
  const ramp = Math.min(1, ctx.progress / Math.max(o.advWarmupFraction, 1e-9));
  return {
    generatorWeight: (o.advWeight * ramp) / pixelDims(o.config),
    noiseSeed: hashString(`aae:${ctx.step}:${ctx.replica}`, o.seed),
  };
}

export const AAE_TASK_MODULE = new URL("./aae-task.ts", import.meta.url).href;

export function aaeTaskDefinition(options: AAETaskOptions): TaskDefinition<AAETaskOptions> {
  return { module: AAE_TASK_MODULE, options };
}

export const createTask: CreateTask<AAETaskOptions> = async (o, role) => {
  const model = new AAE(o.config, o.seed);
  const dims = pixelDims(o.config);
  const task: TrainTask & { model: AAE } = {
    model,
    kind: "aae",
    config: o.config,
    hyper: {
      initSeed: o.seed,
      advWeight: o.advWeight,
      advWarmupFraction: o.advWarmupFraction,
      prior: "N(0, I)",
      posterior: "Gaussian, z = μ + σ·ε (Makhzani et al. 2016, §2)",
    },
    params: model.params,
    // The same step as `loss` below as one ONNX graph, ORT's by default.
    native: aaeNativeStep(o.config, o.train, (ctx) => aaeStep(o, ctx)),
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    freshOnWarmStart: (name) => name.startsWith(LATENT_DISC_PREFIX),
    decays: () => true,
    plan: (items: Int32Array): Batch => planImages(o.train, items),
    loss(batch: Batch, ctx: StepContext) {
      const images = tf.div(pixelsOf(batch, o.train), 255) as tf.Tensor4D; // [B, H, W, C] in [0, 1]
      const { generatorWeight, noiseSeed } = aaeStep(o, ctx);
      const t = model.terms(images, noiseSeed);
      const rec = tf.div(tf.mean(t.nll), dims) as tf.Scalar;
      return {
        loss: tf.addN([rec, tf.mul(t.generator, generatorWeight), t.discriminator]) as tf.Scalar,
        logs: { recBpd: tf.div(rec, Math.LN2) as tf.Scalar, gen: t.generator, disc: t.discriminator, dAcc: t.discAccuracy },
      };
    },
    async validate() {
      const v = await validateAae(model, o.val);
      return {
        valRecNats: v.nllNats,
        valRecBitsPerDim: v.nllBitsPerDim,
        valZMeanAbs: v.zMeanAbs,
        valZStd: v.zStd,
        valDiscAccuracy: v.discAccuracy,
      };
    },
    sheet: o.sheet && role === "main" ? (file: string) => vaeSheet(model.vae, o.val, file) : undefined,
    dispose: () => model.dispose(),
  };
  return task;
};

export const labModel: LabModel = {
  summary: "aae: the VAE's networks with the KL replaced by adversarial prior matching on z (Makhzani et al. 2016)",
  presets: ["default", "tiny"],
  trainerDefaults: AAE_TRAINER_DEFAULTS,
  exportDtype: "float16",
  definition: (ctx: LabContext) =>
    aaeTaskDefinition({
      config: { ...DEFAULT_AAE_CONFIG, ...AAE_PRESETS[ctx.preset], imageSize: ctx.train.height, channels: ctx.train.channels },
      seed: ctx.seed,
      train: ctx.train,
      val: ctx.val,
      advWeight: 50,
      advWarmupFraction: 0.1,
      sheet: ctx.sheet,
    }),
};
