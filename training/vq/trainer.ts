// The image-tokenizer training loop: Adam with warm-up + cosine LR, seeded shuffled batches, periodic validation,
// checkpoints (model + optimizer, resumable) every N steps and on Ctrl-C, and a reconstruction sheet each time.
// It talks to the model only through VQModel's public methods.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { BatchStream, sequentialBatches } from "../../lib/data/batches";
import type { Shard } from "../../lib/data/shard";
import { VQModel } from "../../lib/model/vq-model";
import type { VQConfig } from "../../lib/model/vq-config";
import { AdamW } from "../optim/adamw";
import { cosineAnneal, learningRate, type LrSchedule } from "../optim/schedule";
import { Progress } from "../progress";
import { interruptible, resumeRun, saveRun } from "../run-state";

export interface TrainVQOptions {
  config: VQConfig;
  train: Shard;
  val: Shard;
  outDir: string;
  batchSize: number;
  /** Stop after this many steps, or when `minutes` have passed, whichever comes first. */
  steps: number;
  minutes: number;
  seed: number;
  lr: LrSchedule;
  checkpointEvery: number;
  resume: boolean;
  dataHash: string | null;
  /** dVAE: final temperature (DALL·E anneals τ from 1 to 1/16) and KL weight after warm-up. */
  finalTemperature: number;
  klWeight: number;
  /** Writes a reconstruction sheet at each checkpoint (the CLI passes `reconstructionSheet`). */
  sheet?: (model: VQModel, val: Shard, file: string) => Promise<void>;
  log?: (line: string) => void;
}

export interface TrainVQResult {
  model: VQModel;
  step: number;
  val: { mse: number; psnr: number; usage: number };
  imagesPerSecond: number;
}

const psnr = (mse: number) => 10 * Math.log10(1 / Math.max(mse, 1e-10));

/** Reconstruction MSE (clipped, as served) and codebook usage over up to `limit` validation images. */
export async function validate(model: VQModel, val: Shard, limit = 1024, batchSize = 128): Promise<{ mse: number; psnr: number; usage: number }> {
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

export async function trainVQ(o: TrainVQOptions): Promise<TrainVQResult> {
  const log = o.log ?? ((line: string) => console.log(line));
  const model = new VQModel(o.config, o.seed);
  const params = model.params.trainable();
  const optimizer = new AdamW(params);
  const modelDir = path.join(o.outDir, "model");
  const { step: startStep, elapsedBefore } = resumeRun(o.outDir, model.params, optimizer, o.resume, log);
  let step = startStep;
  log(`${o.config.kind}: ${model.params.countTrainable().toLocaleString()} trainable parameters, codes ${model.grid}×${model.grid} × ${o.config.codebookSize}`);

  const stream = new BatchStream(o.train, { batchSize: o.batchSize, seed: o.seed });
  stream.skip(step);
  const started = performance.now();
  const budgetS = o.minutes * 60;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const progressOf = () => Math.max(step / o.steps, budgetS > 0 ? elapsed() / budgetS : 0);
  const interrupt = interruptible(log);

  const checkpoint = async () => {
    const val = await validate(model, o.val);
    const metrics = { step, valMse: val.mse, valPsnr: val.psnr, valUsage: val.usage };
    await saveRun(o.outDir, model.params, optimizer, { kind: o.config.kind, config: o.config, metrics, dataHash: o.dataHash, step, elapsedSeconds: elapsed(), seed: o.seed });
    if (o.sheet) await o.sheet(model, o.val, path.join(o.outDir, `recon-${String(step).padStart(6, "0")}.png`));
    log(`\nstep ${step}: val PSNR ${val.psnr.toFixed(2)} dB, usage ${(val.usage * 100).toFixed(1)}% → ${modelDir}`);
    return val;
  };

  fs.mkdirSync(o.outDir, { recursive: true });
  const total = budgetS > 0 ? Math.round(budgetS) : o.steps;
  const bar = new Progress(o.config.kind, total);
  const window = new Uint32Array(o.config.codebookSize);
  let windowSteps = 0;
  let images = 0;
  const loopStart = performance.now();
  let lastVal = { mse: NaN, psnr: NaN, usage: NaN };
  try {
    while (!interrupt.stopped && step < o.steps && (budgetS <= 0 || elapsed() < budgetS)) {
      const p = progressOf();
      const lr = learningRate(o.lr, step, p);
      const batch = stream.next();
      let forward: ReturnType<VQModel["forward"]> | undefined;
      const { value, grads } = tf.variableGrads(() => {
        forward = model.forward(batch.images, { training: true, temperature: cosineAnneal(1, o.finalTemperature, p), klWeight: o.klWeight * Math.min(1, p / 0.2) });
        tf.keep(forward.reconstruction);
        tf.keep(forward.codes);
        tf.keep(forward.latents);
        tf.keep(forward.losses.reconstruction);
        return forward.loss;
      }, [...params.values()]);
      const byName: Record<string, tf.Tensor> = {};
      [...params.keys()].forEach((name) => (byName[name] = grads[params.get(name)!.name]));
      optimizer.apply(byName, lr);
      const f = forward!;
      await model.afterStep(f);
      // Async reads throughout: the WebGPU backend cannot read synchronously in Node.
      const mse = (await f.losses.reconstruction.data())[0];
      for (const c of await f.codes.data()) window[c]++;
      windowSteps++;
      const loss = (await value.data())[0];
      tf.dispose([value, batch.images, f.reconstruction, f.codes, f.latents, f.losses.reconstruction, ...Object.values(grads)]);
      step++;
      images += o.batchSize;
      const usage = window.reduce((a, c) => a + (c > 0 ? 1 : 0), 0) / window.length;
      if (windowSteps >= 50) {
        window.fill(0);
        windowSteps = 0;
      }
      const rate = images / ((performance.now() - loopStart) / 1000);
      const shown = `loss ${loss.toFixed(4)} PSNR ${psnr(mse).toFixed(2)} usage ${(usage * 100).toFixed(0)}% lr ${lr.toExponential(1)} ${rate.toFixed(0)} img/s`;
      if (budgetS > 0) bar.update(Math.min(total, Math.round(elapsed())), `step ${step} ${shown}`);
      else bar.update(step, shown);
      if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${step}; lower --lr`);
      if (step % o.checkpointEvery === 0) lastVal = await checkpoint();
    }
    bar.finish(`step ${step}`);
    if (step % o.checkpointEvery !== 0 || Number.isNaN(lastVal.mse)) lastVal = await checkpoint();
  } finally {
    interrupt.release();
    optimizer.dispose();
  }
  const imagesPerSecond = images / ((performance.now() - loopStart) / 1000);
  return { model, step, val: lastVal, imagesPerSecond };
}
