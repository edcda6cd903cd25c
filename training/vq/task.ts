// The image tokenizer (VQ-VAE or dVAE) as a training task (training/loop/task.ts): reconstruction MSE plus the
// quantizer's term; the VQ-VAE's EMA codebook and dead-code restarts run after each step on the whole batch's
// encoder outputs, gathered from every replica (or output by the native graph, ./native-step.ts). The loop does
// everything else.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { hashString } from "../../lib/data/rng";
import { type Shard } from "../../lib/data/shard";
import type { VQConfig } from "../../lib/model/vq-config";
import { VQModel } from "../../lib/model/vq-model";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { cosineAnneal } from "../optim/schedule";
import { DEFAULT_DISCRIMINATOR_CONFIG, DISCRIMINATOR_PREFIX } from "../../lib/model/discriminator";
import { GanObjective, type GanOptions } from "./gan";
import { pixelsOf, planImages } from "../loop/image-batch";
import { reconstructionSheet } from "./recon-sheet";
import { vqNativeStep, type GumbelStep } from "./native-step";
import { VQGAN_LAMBDA } from "../../lib/model/onnx/vqgan-training-graph";

/** The loop's settings for the image tokenizers (Adam, no decay or clipping). */
export const VQ_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 64,
  lr: 2e-3,
  warmup: 200,
  lrFloor: 0.05,
  checkpointEvery: 500,
  valEvery: 500,
});

export interface VQTaskOptions {
  config: VQConfig;
  seed: number;
  train: Shard;
  val: Shard;
  /**
   * dVAE: τ is cosine-annealed from 1 to `finalTemperature` over the first `temperatureFraction` of the budget, on a
   * schedule of its own (DALL·E: 1 → 1/16 over the first 150k of ~3M updates, i.e. 5 %), then held; the per-sample
   * KL weight ramps linearly from 0 over the first `klWarmupFraction` (DALL·E: 0 → β over the first 5k updates).
   */
  finalTemperature: number;
  temperatureFraction: number;
  /**
   * dVAE: the Gumbel noise's scale, cosine-annealed from 1 to `finalNoise` over the same first `temperatureFraction`.
   * With straight-through hard samples τ shapes only the gradient: the decoder reads a code drawn from q(z|x), and
   * while q is broad (3.4 nats of entropy after 850 steps, ~30 codes a position) that is seldom the argmax serving
   * decodes. 1 keeps DALL·E's sampling; 0 ends the anneal decoding the argmax, as served.
   */
  finalNoise?: number;
  klWeight: number;
  klWarmupFraction: number;
  /** VQ-VAE only: train it as a VQ-GAN (patch discriminator, adaptive adversarial weight; see gan.ts). */
  gan?: GanOptions;
  /** Reconstruction sheets at checkpoints (main thread). */
  sheet?: boolean;
  /**
   * Train the decoder only: the encoder and codebook stay as the warm start loaded them (frozen, no EMA update or
   * restart), so every image keeps the codes that tokenizer gives it, and a transformer trained on those codes still
   * serves with the new decoder.
   */
  keepCodes?: boolean;
  /** A warm start leaves the decoder at its initialisation (a decoder of another shape than the one it starts from). */
  freshDecoder?: boolean;
}

/** The decoder's parameters (lib/model/vq-model.ts): what `keepCodes` trains. */
export const DECODER_PREFIX = "dec.";

/**
 * The dVAE's schedule. DALL·E (Ramesh et al. 2021, appendix A.2) trains on the relaxation itself — the decoder reads
 * the soft Gumbel-softmax sample — with τ annealed 1 → 1/16 over the first 150k of ~3M updates, and ramps the KL
 * weight to β = 6.6 (in this loss's units, mean squared error + w · mean KL per position, w ≈ 1.4e-3). Scaled to a
 * budget of thousands of steps, the anneal spans the whole run (`temperatureFraction` 1): τ reaches 1/16 only at
 * the end, when the soft sample is all but the one-hot serving decodes. Measured on ORT at 850 steps × 64
 * (docs/tokenizers/README.md), with `hardGumbel` off: 18.30 dB val PSNR with the Gumbel noise kept and KL 5e-4,
 * 18.32 with no KL, 18.44 with the noise annealed to 0 as well and no KL (the defaults; the VQ-VAE: 19.31);
 * straight-through hard samples with τ held at 1 (the earlier defaults, as taming-transformers' Gumbel quantizer)
 * 16.21, 16.86 at best; straight-through with τ → 1/16 over the first 10 % collapsed usage to 56 %. NOTE: with
 * the noise annealed to 0 and no KL the bottleneck ends deterministic — a softmax relaxation of the argmax — rather
 * than a variational posterior; `--final-noise 1 --kl-weight 5e-4` keeps DALL·E's, 0.14 dB lower at 850 steps.
 */
export const DVAE_SCHEDULE: Readonly<
  Required<Pick<VQTaskOptions, "finalTemperature" | "temperatureFraction" | "finalNoise" | "klWeight" | "klWarmupFraction">>
> = Object.freeze({ finalTemperature: 1 / 16, temperatureFraction: 1, finalNoise: 0, klWeight: 0, klWarmupFraction: 0.2 });

const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));

/** Reconstruction MSE (clipped, as served) and codebook usage over up to `limit` validation images. */
export async function validate(
  model: VQModel,
  val: Shard,
  limit = 1024,
  batchSize = 128,
): Promise<{ mse: number; psnr: number; usage: number }> {
  const used = new Uint8Array(model.config.codebookSize);
  let se = 0;
  let n = 0;
  const capped = { ...val, count: Math.min(val.count, limit) };
  for (const { images } of sequentialBatches(capped, batchSize)) {
    const { reconstruction: recon, codes } = model.roundTrip(images);
    const err = tf.tidy(() => tf.sum(tf.square(tf.sub(recon, images))));
    se += (await err.data())[0];
    n += images.size;
    if (model.discrete) for (const c of await codes.data()) used[c] = 1;
    tf.dispose([images, recon, codes, err]);
  }
  const mse = se / n;
  return { mse, psnr: psnr(mse), usage: model.discrete ? used.reduce((a, b) => a + b, 0) / used.length : 0 };
}

/** 1 → `end`, cosine-annealed over the first `temperatureFraction` of the budget, then held (τ's and the noise's schedule). */
const dvaeAnneal = (o: Pick<VQTaskOptions, "temperatureFraction">, end: number, progress: number): number =>
  cosineAnneal(1, end, progress / Math.max(o.temperatureFraction, 1e-9));

/** τ at a point of the budget: annealed over the first `temperatureFraction`, then held at `finalTemperature`. */
export function gumbelTemperature(o: Pick<VQTaskOptions, "finalTemperature" | "temperatureFraction">, progress: number): number {
  return dvaeAnneal(o, o.finalTemperature, progress);
}

/** The dVAE quantizer's settings at a step, for both engines alike: τ, the noise's scale, the warmed-up KL weight, the noise's seed. */
export function gumbelStep(o: VQTaskOptions, ctx: StepContext): GumbelStep {
  return {
    temperature: gumbelTemperature(o, ctx.progress),
    noiseScale: dvaeAnneal(o, o.finalNoise ?? 1, ctx.progress),
    klWeight: o.klWeight * Math.min(1, ctx.progress / Math.max(o.klWarmupFraction, 1e-9)),
    noiseSeed: hashString(`gumbel:${ctx.step}:${ctx.replica}`, o.seed),
  };
}

export const VQ_TASK_MODULE = new URL("./task.ts", import.meta.url).href;

export function vqTaskDefinition(options: VQTaskOptions): TaskDefinition<VQTaskOptions> {
  return { module: VQ_TASK_MODULE, options };
}

export const createTask: CreateTask<VQTaskOptions> = async (o, role) => {
  const model = new VQModel(o.config, o.seed);
  if (o.gan && o.config.kind !== "vqvae") throw new Error(`a GAN objective needs a vqvae, got ${o.config.kind}`);
  // The discriminator's parameters live in the model's store (the loop trains one store) under "disc.*".
  const gan = o.gan ? new GanObjective(model, DEFAULT_DISCRIMINATOR_CONFIG, o.gan) : null;
  const task: TrainTask & { model: VQModel } = {
    model,
    kind: o.config.kind,
    config: o.config,
    freshOnWarmStart: (name) => name.startsWith(DISCRIMINATOR_PREFIX) || (o.freshDecoder === true && name.startsWith(DECODER_PREFIX)),
    frozen: o.keepCodes ? (name) => !name.startsWith(DECODER_PREFIX) && !name.startsWith(DISCRIMINATOR_PREFIX) : undefined,
    hyper: {
      finalTemperature: o.finalTemperature,
      temperatureFraction: o.temperatureFraction,
      finalNoise: o.finalNoise,
      klWeight: o.klWeight,
      klWarmupFraction: o.klWarmupFraction,
      initSeed: o.seed,
      ...(o.gan ? { gan: o.gan } : {}),
      ...(o.keepCodes ? { keepCodes: true } : {}),
    },
    params: model.params,
    // The same step as `loss` below as one ONNX graph (the default engine): VQ-VAE, VQ-GAN, dVAE, "ae".
    native: vqNativeStep(model, o.train, gan ?? undefined, (ctx) => gumbelStep(o, ctx)),
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    decays: () => true,
    plan: (items: Int32Array): Batch => planImages(o.train, items),
    loss(batch: Batch, ctx: StepContext) {
      const images = tf.div(pixelsOf(batch, o.train), 255) as tf.Tensor4D; // [B, H, W, C] in [0, 1]
      const f = model.forward(images, { training: true, ...gumbelStep(o, ctx) });
      const gather = { latents: f.latents, codes: f.codes };
      if (!gan) return { loss: f.loss, logs: f.losses, gather };
      const g = gan.terms(images, f, ctx.step);
      return { loss: tf.add(f.loss, g.loss) as tf.Scalar, logs: { ...f.losses, ...g.logs }, gather };
    },
    async afterStep(g: Record<string, tf.Tensor>) {
      // The native VQ-GAN step hands back the λ it used (the tfjs objective keeps its own inside `terms`).
      if (gan && g[VQGAN_LAMBDA]) gan.hold(g[VQGAN_LAMBDA].dataSync()[0]);
      if (o.keepCodes) return; // the codebook stays the warm start's
      await model.afterStep({ latents: g.latents as tf.Tensor4D, codes: g.codes as tf.Tensor3D });
    },
    async validate() {
      const v = await validate(model, o.val);
      return { valMse: v.mse, valPsnr: v.psnr, valUsage: v.usage };
    },
    sheet: o.sheet && role === "main" ? (file: string) => reconstructionSheet(model, o.val, file) : undefined,
    dispose: () => model.dispose(),
  };
  return task;
};
