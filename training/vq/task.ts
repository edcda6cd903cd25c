// The image tokenizer (VQ-VAE or dVAE) as a training task (training/loop/task.ts): reconstruction MSE plus the
// quantizer's term; the VQ-VAE's EMA codebook and dead-code restarts run after each step on the whole batch's
// encoder outputs, gathered from every replica. The loop does everything else.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { hashString } from "../../lib/data/rng";
import { imageBytes, type Shard } from "../../lib/data/shard";
import type { VQConfig } from "../../lib/model/vq-config";
import { VQModel } from "../../lib/model/vq-model";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import type { Batch, CreateTask, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { cosineAnneal } from "../optim/schedule";
import { reconstructionSheet } from "./recon-sheet";

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
  /** dVAE: final temperature (DALL·E anneals τ from 1 to 1/16) and KL weight after warm-up. */
  finalTemperature: number;
  klWeight: number;
  /** Reconstruction sheets at checkpoints (main thread). */
  sheet?: boolean;
}

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
    const codes = model.encode(images);
    const recon = model.decode(codes);
    const err = tf.tidy(() => tf.sum(tf.square(tf.sub(recon, images))));
    se += (await err.data())[0];
    n += images.size;
    for (const c of await codes.data()) used[c] = 1;
    tf.dispose([images, codes, recon, err]);
  }
  const mse = se / n;
  return { mse, psnr: psnr(mse), usage: used.reduce((a, b) => a + b, 0) / used.length };
}

export const VQ_TASK_MODULE = new URL("./task.ts", import.meta.url).href;

export function vqTaskDefinition(options: VQTaskOptions): TaskDefinition<VQTaskOptions> {
  return { module: VQ_TASK_MODULE, options };
}

export const createTask: CreateTask<VQTaskOptions> = async (o, role) => {
  const model = new VQModel(o.config, o.seed);
  const bytes = imageBytes(o.train);
  const shape = [o.train.height, o.train.width, o.train.channels];
  const task: TrainTask & { model: VQModel } = {
    model,
    kind: o.config.kind,
    config: o.config,
    hyper: { finalTemperature: o.finalTemperature, klWeight: o.klWeight, initSeed: o.seed },
    params: model.params,
    itemCount: o.train.count,
    throughput: { unit: "img", perItem: 1 },
    decays: () => true,
    plan(items: Int32Array): Batch {
      const images = new Uint8Array(items.length * bytes);
      items.forEach((item, b) => images.set(o.train.data.subarray(item * bytes, (item + 1) * bytes), b * bytes));
      return { rows: items.length, arrays: { images } };
    },
    loss(batch: Batch, ctx: StepContext) {
      const images = tf.div(
        tf.tensor4d(batch.arrays.images as Uint8Array, [batch.rows, ...shape] as [number, number, number, number], "int32"),
        255,
      ) as tf.Tensor4D; // [B, H, W, C]
      const f = model.forward(images, {
        training: true,
        temperature: cosineAnneal(1, o.finalTemperature, ctx.progress),
        klWeight: o.klWeight * Math.min(1, ctx.progress / 0.2),
        noiseSeed: hashString(`gumbel:${ctx.step}:${ctx.replica}`, o.seed),
      });
      return { loss: f.loss, logs: f.losses, gather: { latents: f.latents, codes: f.codes } };
    },
    async afterStep(g: Record<string, tf.Tensor>) {
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
