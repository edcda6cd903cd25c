// The transformer's training loop: AdamW (decay on linear weights only), warm-up + cosine LR, global-norm
// clipping, caption dropout to <null> (what makes classifier-free guidance possible), val loss every N steps,
// checkpoints (model + optimizer, resumable) and a sample sheet at each. Talks to the model only through its
// public methods.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { IndexStream } from "../../lib/data/batches";
import { mulberry32 } from "../../lib/data/rng";
import { Transformer } from "../../lib/model/transformer";
import { imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";
import { AdamW, clipByGlobalNorm } from "../optim/adamw";
import { learningRate, type LrSchedule } from "../optim/schedule";
import { Progress } from "../progress";
import { interruptible, resumeRun, saveRun } from "../run-state";

/** Tokenised captions [count · T] and their image codes [count · h·w]. */
export interface GptData {
  count: number;
  text: Int32Array;
  codes: Int32Array;
}

export interface TrainGptOptions {
  config: TransformerConfig;
  train: GptData;
  val: GptData;
  /** Token ids of the <null> caption (length T). */
  nullText: number[];
  outDir: string;
  batchSize: number;
  steps: number;
  minutes: number;
  seed: number;
  lr: LrSchedule;
  weightDecay: number;
  clipNorm: number;
  /** Probability of replacing a caption by <null> (DALL·E-style guidance training). */
  captionDropout: number;
  checkpointEvery: number;
  valEvery: number;
  resume: boolean;
  dataHash: string | null;
  /** Writes a sample sheet for the model at a step (the CLI decodes with the image tokenizer). */
  sampleSheet?: (model: Transformer, file: string) => Promise<void>;
  log?: (line: string) => void;
}

export interface ValLoss {
  imageNats: number;
  imageBits: number;
  textNats: number;
}

/** Mean text and image losses over up to `limit` items, without dropout. */
export async function validationLoss(model: Transformer, data: GptData, limit = 512, batchSize = 64): Promise<ValLoss> {
  const c = model.config;
  const n = imageTokens(c);
  const count = Math.min(limit, data.count);
  let image = 0;
  let text = 0;
  for (let start = 0; start < count; start += batchSize) {
    const b = Math.min(batchSize, count - start);
    const both = tf.tidy(() => {
      const txt = tf.tensor2d(data.text.subarray(start * c.textLen, (start + b) * c.textLen), [b, c.textLen], "int32");
      const img = tf.tensor2d(data.codes.subarray(start * n, (start + b) * n), [b, n], "int32");
      const l = model.loss(txt, img, false);
      return tf.stack([l.textLoss, l.imageLoss]);
    });
    const [t, i] = await both.data();
    both.dispose();
    text += t * b;
    image += i * b;
  }
  return { imageNats: image / count, imageBits: image / count / Math.LN2, textNats: text / count };
}

export async function trainGpt(o: TrainGptOptions): Promise<{ model: Transformer; step: number; val: ValLoss; tokensPerSecond: number }> {
  const log = o.log ?? ((line: string) => console.log(line));
  const c = o.config;
  const n = imageTokens(c);
  const model = new Transformer(c, o.seed);
  const params = model.params.trainable();
  const optimizer = new AdamW(params, { beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: o.weightDecay, decays: (name) => name.endsWith(".w") });
  const modelDir = path.join(o.outDir, "model");
  const { step: startStep, elapsedBefore } = resumeRun(o.outDir, model.params, optimizer, o.resume, log);
  let step = startStep;
  log(`transformer: ${model.params.countTrainable().toLocaleString()} parameters, ${c.nLayer} layers × ${c.nEmbd}, sequence ${c.textLen} + ${n}`);

  const stream = new IndexStream(o.train.count, o.batchSize, o.seed);
  stream.skip(step);
  // Caption dropout draws from its own stream, advanced per step, so a resumed run drops the same captions.
  const dropRand = mulberry32(o.seed ^ 0x5eed);
  for (let i = 0; i < step * o.batchSize; i++) dropRand();
  const started = performance.now();
  const budgetS = o.minutes * 60;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  const interrupt = interruptible(log);
  fs.mkdirSync(o.outDir, { recursive: true });

  let val = await validationLoss(model, o.val);
  const checkpoint = async () => {
    val = await validationLoss(model, o.val);
    const metrics = { step, valImageNats: val.imageNats, valImageBits: val.imageBits, valTextNats: val.textNats };
    await saveRun(o.outDir, model.params, optimizer, { kind: "transformer", config: c, metrics, dataHash: o.dataHash, step, elapsedSeconds: elapsed(), seed: o.seed });
    if (o.sampleSheet) await o.sampleSheet(model, path.join(o.outDir, `samples-${String(step).padStart(6, "0")}.png`));
    log(`\nstep ${step}: val image loss ${val.imageNats.toFixed(4)} nats (${val.imageBits.toFixed(3)} bits/token), text ${val.textNats.toFixed(3)} → ${modelDir}`);
  };

  const seqTokens = c.textLen + n - 1;
  const total = budgetS > 0 ? Math.round(budgetS) : o.steps;
  const bar = new Progress("gpt", total);
  const loopStart = performance.now();
  let tokens = 0;
  const paramList = [...params.values()];
  try {
    while (!interrupt.stopped && step < o.steps && (budgetS <= 0 || elapsed() < budgetS)) {
      const progress = Math.max(step / o.steps, budgetS > 0 ? elapsed() / budgetS : 0);
      const lr = learningRate(o.lr, step, progress);
      const idx = stream.next();
      const text = new Int32Array(o.batchSize * c.textLen);
      const codes = new Int32Array(o.batchSize * n);
      idx.forEach((item, b) => {
        const caption = dropRand() < o.captionDropout ? o.nullText : o.train.text.subarray(item * c.textLen, (item + 1) * c.textLen);
        text.set(caption, b * c.textLen);
        codes.set(o.train.codes.subarray(item * n, (item + 1) * n), b * n);
      });
      const textT = tf.tensor2d(text, [o.batchSize, c.textLen], "int32");
      const codesT = tf.tensor2d(codes, [o.batchSize, n], "int32");
      let imageLossT: tf.Scalar | undefined;
      const { value, grads } = tf.variableGrads(() => {
        const l = model.loss(textT, codesT, true);
        imageLossT = tf.keep(l.imageLoss);
        return l.loss;
      }, paramList);
      const byName: Record<string, tf.Tensor> = {};
      for (const [name, p] of params) byName[name] = grads[p.name];
      const clipped = await clipByGlobalNorm(byName, o.clipNorm);
      optimizer.apply(clipped.grads, lr);
      // Async reads: the WebGPU backend cannot read synchronously in Node.
      const loss = (await value.data())[0];
      const imageLoss = (await imageLossT!.data())[0];
      tf.dispose([value, imageLossT!, textT, codesT, ...Object.values(clipped.grads)]);
      step++;
      tokens += o.batchSize * seqTokens;
      const rate = tokens / ((performance.now() - loopStart) / 1000);
      const shown = `step ${step} loss ${loss.toFixed(3)} image ${imageLoss.toFixed(3)} |g| ${clipped.norm.toFixed(2)} lr ${lr.toExponential(1)} ${rate.toFixed(0)} tok/s`;
      bar.update(budgetS > 0 ? Math.min(total, Math.round(elapsed())) : step, shown);
      if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${step}; lower --lr`);
      if (step % o.checkpointEvery === 0) await checkpoint();
      else if (step % o.valEvery === 0) {
        val = await validationLoss(model, o.val);
        log(`\nstep ${step}: val image loss ${val.imageNats.toFixed(4)} nats`);
      }
    }
    bar.finish(`step ${step}`);
    if (step % o.checkpointEvery !== 0) await checkpoint();
  } finally {
    interrupt.release();
    optimizer.dispose();
  }
  return { model, step, val, tokensPerSecond: tokens / ((performance.now() - loopStart) / 1000) };
}
