// The transformer as a training task (training/loop/task.ts): DALL·E's second stage learns p(text, image codes)
// with the loss (1·text + 7·image)/8, captions replaced by <null> with probability `captionDropout` so that one
// model serves both branches of classifier-free guidance (Ho & Salimans 2021). The loop does everything else.
import * as tf from "@tensorflow/tfjs";
import { hashString } from "../../lib/data/rng";
import { rowLosses } from "../../lib/model/onnx/loss-session";
import { positionalText } from "../../lib/model/onnx/export-prefill";
import { exportTrainingGraph } from "../../lib/model/onnx/training-graph";
import { Transformer } from "../../lib/model/transformer";
import { imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";
import { VQModel } from "../../lib/model/vq-model";
import { loadTextTokenizer } from "../../lib/text/tokenizer";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import { DropoutMasks } from "../loop/dropout-masks";
import type { Batch, CreateTask, NativeStep, StepContext, TaskDefinition, TrainTask } from "../loop/task";
import { writeSampleSheet } from "./sample-sheet";

/** Tokenised captions [count · T] and their image codes [count · h·w]. */
export interface GptData {
  count: number;
  text: Int32Array;
  codes: Int32Array;
  /** Optional caption variants [count · V · T] (variant 0 = `text`), drawn per row with `variantProbs`. */
  variants?: Int32Array;
  variantProbs?: readonly number[];
  /** Optional sampling weights per item (see training/gpt/augment.ts). */
  weights?: Float32Array;
}

/** The loop's settings for the transformer (nanoGPT-style AdamW: β2 0.95, decay 0.01 on matrices, clip 1). */
export const GPT_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 32,
  lr: 1e-3,
  warmup: 100,
  lrFloor: 0.1,
  beta2: 0.95,
  weightDecay: 0.01,
  clip: 1,
  checkpointEvery: 200,
  valEvery: 50,
});

export interface GptTaskOptions {
  config: TransformerConfig;
  /** Initialisation seed (the loop's seed drives the data order). */
  seed: number;
  /** Probability of replacing a caption by <null>. */
  captionDropout: number;
  train: GptData;
  val: GptData;
  /** Token ids of the <null> caption (length T). */
  nullText: number[];
  /** Validation items per evaluation. */
  valLimit?: number;
  /** Sample sheets at checkpoints (main thread): the image tokenizer and text tokenizer folders and the prompts. */
  sheet?: { imageTokenizer: string; textTokenizer: string; prompts: string[] };
}

export interface ValLoss {
  imageNats: number;
  imageBits: number;
  textNats: number;
}

/** Mean text and image losses over up to `limit` items, without dropout (on ONNX Runtime: lib/model/onnx/loss-session.ts). */
export async function validationLoss(model: Transformer, data: GptData, limit = 512, batchSize = 64): Promise<ValLoss> {
  const count = Math.min(limit, data.count);
  const rows = await rowLosses(model, data.text, data.codes, count, Math.min(batchSize, count));
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / count;
  const image = mean(rows.image);
  return { imageNats: image, imageBits: image / Math.LN2, textNats: mean(rows.text) };
}

/** A uniform number in [0, 1) from (seed, a, b), the same on every replica and after a resume. */
export function hashUniform(seed: number, a: number, b: number): number {
  return hashString(`${a}:${b}`, seed) / 4294967296;
}

export const GPT_TASK_MODULE = new URL("./task.ts", import.meta.url).href;

export function gptTaskDefinition(options: GptTaskOptions): TaskDefinition<GptTaskOptions> {
  return { module: GPT_TASK_MODULE, options };
}

export const createTask: CreateTask<GptTaskOptions> = async (o, role) => {
  const c = o.config;
  const n = imageTokens(c);
  const model = new Transformer(c, o.seed);
  let sheetTools: { vq: VQModel; tok: Awaited<ReturnType<typeof loadTextTokenizer>> } | null = null;
  /** The dropout masks of each compiled batch size (a graph's masks have its static shape). */
  const masks = new Map<number, DropoutMasks>();
  // The same step as `loss` below, as one ONNX graph with its backward pass (the default engine).
  const native: NativeStep = {
    graph(rows) {
      const g = exportTrainingGraph(c, { batch: rows, dropout: c.dropout > 0, gradients: true });
      if (Object.keys(g.masks).length) masks.set(rows, new DropoutMasks(g.masks, c.dropout));
      return {
        bytes: g.bytes,
        params: g.params,
        loss: g.names.loss,
        logs: { image: g.names.imageLoss, text: g.names.textLoss },
        grads: g.names.grads,
      };
    },
    feeds(batch, ctx) {
      return {
        text: { type: "int32", data: positionalText(c, batch.arrays.text as Int32Array), dims: [batch.rows, c.textLen] },
        codes: { type: "int32", data: batch.arrays.codes as Int32Array, dims: [batch.rows, n] },
        ...masks.get(batch.rows)?.draw(o.seed, ctx.step, ctx.replica),
      };
    },
    // Every row has textLen + image-token terms (<pad> positions predict their own pad id): shards average exactly.
    splittable: true,
  };
  const task: TrainTask = {
    kind: "transformer",
    config: c,
    hyper: {
      captionDropout: o.captionDropout,
      initSeed: o.seed,
      valLimit: o.valLimit ?? 512,
      captionVariants: o.train.variantProbs ?? null,
      balancedSampling: !!o.train.weights,
    },
    params: model.params,
    native,
    itemCount: o.train.count,
    sampleWeights: o.train.weights,
    throughput: { unit: "tok", perItem: c.textLen + n - 1 },
    decays: (name) => name.endsWith(".w"),
    plan(items: Int32Array, step: number): Batch {
      const text = new Int32Array(items.length * c.textLen);
      const codes = new Int32Array(items.length * n);
      const { variants, variantProbs } = o.train;
      const v = variantProbs?.length ?? 1;
      items.forEach((item, b) => {
        const dropped = hashUniform(o.seed ^ 0x5eed, step, b) < o.captionDropout;
        let caption = o.train.text.subarray(item * c.textLen, (item + 1) * c.textLen);
        if (variants && variantProbs) {
          // Which variant this row reads: by a hash of (step, row), like the dropout decision.
          let u = hashUniform(o.seed ^ 0xca9, step, b);
          let k = 0;
          while (k < v - 1 && u >= variantProbs[k]) u -= variantProbs[k++];
          caption = variants.subarray((item * v + k) * c.textLen, (item * v + k + 1) * c.textLen);
        }
        text.set(dropped ? o.nullText : caption, b * c.textLen);
        codes.set(o.train.codes.subarray(item * n, (item + 1) * n), b * n);
      });
      return { rows: items.length, arrays: { text, codes } };
    },
    loss(batch: Batch, ctx: StepContext) {
      model.reseedDropout(hashString(`dropout:${ctx.step}:${ctx.replica}`, o.seed));
      const text = tf.tensor2d(batch.arrays.text as Int32Array, [batch.rows, c.textLen], "int32");
      const codes = tf.tensor2d(batch.arrays.codes as Int32Array, [batch.rows, n], "int32");
      const l = model.loss(text, codes, true);
      return { loss: l.loss, logs: { image: l.imageLoss, text: l.textLoss } };
    },
    async validate() {
      const v = await validationLoss(model, o.val, o.valLimit ?? 512);
      return { valImageNats: v.imageNats, valImageBits: v.imageBits, valTextNats: v.textNats };
    },
    sheet:
      o.sheet && role === "main"
        ? async (file: string) => {
            sheetTools ??= { vq: VQModel.load(o.sheet!.imageTokenizer).model, tok: await loadTextTokenizer(o.sheet!.textTokenizer) };
            await writeSampleSheet(model, sheetTools.vq, sheetTools.tok, o.sheet!.prompts, file);
          }
        : undefined,
    dispose() {
      sheetTools?.vq.dispose();
      model.dispose();
    },
  };
  return task;
};
