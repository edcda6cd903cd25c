// CLIP as a training task (training/loop/task.ts): the symmetric InfoNCE loss over (image, caption) pairs of the
// emoji train split (Radford et al. 2021). plan() draws each row's caption variant and image shift; loss() counts a
// caption as a positive for every image it describes (captionPositives); validate() reports the val loss and
// within-batch retrieval. Sampling is balanced over (label family, style) by the script (training/gpt/augment.ts
// balancedWeights): without it half of each batch would be skin-tone variants of a few hands and people, near
// duplicates that crowd out the rest of the corpus as negatives. The step runs on ONNX Runtime by default (the same
// loss as one graph, ./native-step.ts), on tfjs with --engine tfjs. The loop does everything else.
//
// Data parallelism and negatives: on tfjs the loop splits a batch by rows and each replica computes the loss of its
// own shard, so every row is contrasted with the rows of its shard only (batch / replicas), not with the whole batch
// as the paper's all-gather does. On ONNX Runtime the whole batch is one graph run, so every row is contrasted with
// all the others (as tfjs with one replica): the same batch size gives a harder task and a loss not comparable with
// a multi-replica tfjs run's. Larger batches are worth more here than for the other tasks.
import * as tf from "@tensorflow/tfjs";
import { hashString } from "../../lib/data/rng";
import { Clip } from "../../lib/model/clip";
import { clipLogits, symmetricInfoNCE } from "../../lib/model/clip-loss";
import type { ClipConfig } from "../../lib/model/clip-config";
import { DEFAULT_TRAINER_CONFIG, type TrainerConfig } from "../loop/config";
import type { Batch, CreateTask, TaskDefinition, TrainTask } from "../loop/task";
import { shiftImage } from "./augment";
import { batchTexts, captionPositives } from "./batch-texts";
import { clipNativeStep } from "./native-step";

export { captionPositives } from "./batch-texts";

/** Pairs as plain arrays: images [count · S·S·C] uint8 HWC, captions [count · T] token ids. */
export interface ClipData {
  count: number;
  images: Uint8Array;
  text: Int32Array;
  /** Optional caption variants [count · V · T] (variant 0 = `text`), drawn per row with `variantProbs`. */
  variants?: Int32Array;
  variantProbs?: readonly number[];
  /** Optional sampling weights per item (training/gpt/augment.ts balancedWeights). */
  weights?: Float32Array;
  /**
   * Optional hard negatives [count · K · T]: K captions per item that do not describe it but differ from its own by
   * one word (training/shapes/hard-negatives.ts); each row reads one, drawn per step, as an extra wrong text.
   */
  negatives?: Int32Array;
  negativesPerItem?: number;
  /**
   * Optional images decoded by the image tokenizer [count · S·S·C], the same layout as `images`
   * (./decoded-images.ts): a row reads its item's decoded picture instead of the real one with probability `decodedShare`.
   */
  decoded?: Uint8Array;
  decodedShare?: number;
}

/**
 * The loop's settings for CLIP. The paper trains with Adam, decoupled weight decay 0.2 on all weights but gains,
 * biases and the temperature, β2 0.98 and a cosine schedule (§2.5, appendix F); a batch of 32,768 does not fit two
 * cores, 256 (128 per replica) does. Decay 0.1 at lr 1e-3 is the paper's 0.2 at its 5e-4 per step.
 */
export const CLIP_TRAINER_DEFAULTS: Readonly<TrainerConfig> = Object.freeze({
  ...DEFAULT_TRAINER_CONFIG,
  batchSize: 256,
  lr: 1e-3,
  warmup: 100,
  lrFloor: 0.05,
  beta2: 0.98,
  weightDecay: 0.1,
  clip: 1,
  checkpointEvery: 250,
  valEvery: 50,
});

/**
 * A uniform number in [0, 1) from (seed, step, row), the same on every replica and after a resume (as the
 * transformer task's; not imported from it, so a worker does not load the transformer, VQ and sheet code).
 */
function hashUniform(seed: number, step: number, row: number): number {
  return hashString(`${step}:${row}`, seed) / 4294967296;
}

export interface ClipTaskOptions {
  config: ClipConfig;
  /** Initialisation seed (the loop's seed drives the data order). */
  seed: number;
  train: ClipData;
  val: ClipData;
  /** Maximum random translation in pixels, each axis (0 = none). */
  shift: number;
  /** Validation rows contrasted with each other at once (the per-replica shard of the default batch). */
  valBatch?: number;
  /** Validation items per evaluation. */
  valLimit?: number;
  /** Facts for the manifest's hyper-parameters (e.g. the text tokenizer's sha256), not read by the task. */
  notes?: Record<string, unknown>;
}

export interface ClipValidation {
  loss: number;
  /** Share of images whose own caption scores highest among the chunk's captions, and the converse. */
  imageToText1: number;
  textToImage1: number;
}

/** Val loss and within-chunk top-1 retrieval over up to `limit` items, in chunks of ~`batch` (equal sizes). */
export async function validateClip(model: Clip, data: ClipData, limit = 1024, batch = 128): Promise<ClipValidation> {
  const c = model.config;
  const px = c.imageSize * c.imageSize * c.channels;
  const count = Math.min(limit, data.count);
  const chunks = Math.max(1, Math.round(count / batch));
  let loss = 0;
  let i2t = 0;
  let t2i = 0;
  for (let k = 0; k < chunks; k++) {
    const from = Math.floor((k * count) / chunks);
    const to = Math.floor(((k + 1) * count) / chunks);
    const n = to - from;
    const text = data.text.subarray(from * c.textLen, to * c.textLen);
    // Val reads one caption per image: positives are its own caption and any identical one.
    const positives = captionPositives(text, text, c.textLen);
    const out = tf.tidy(() => {
      const images = tf.div(
        tf.tensor4d(data.images.subarray(from * px, to * px), [n, c.imageSize, c.imageSize, c.channels], "int32"),
        255,
      ) as tf.Tensor4D; // [n, S, S, C]
      const logits = clipLogits(
        model.encodeImages(images),
        model.encodeTexts(tf.tensor2d(text, [n, c.textLen], "int32")),
        model.logitScale(),
      ); // [n images, n texts]
      const l = symmetricInfoNCE(logits, tf.tensor2d(positives, [n, n]));
      return { loss: l.loss, bestText: tf.argMax(logits, 1), bestImage: tf.argMax(tf.transpose(logits), 1) };
    });
    const [l, bestText, bestImage] = await Promise.all([out.loss.data(), out.bestText.data(), out.bestImage.data()]);
    tf.dispose([out.loss, out.bestText, out.bestImage]);
    loss += l[0] * n;
    // A hit: the best-scoring partner is a positive (a duplicate caption is as right as the row's own).
    for (let i = 0; i < n; i++) {
      i2t += positives[i * n + bestText[i]];
      t2i += positives[bestImage[i] * n + i];
    }
  }
  return { loss: loss / count, imageToText1: i2t / count, textToImage1: t2i / count };
}

export const CLIP_TASK_MODULE = new URL("./task.ts", import.meta.url).href;

export function clipTaskDefinition(options: ClipTaskOptions): TaskDefinition<ClipTaskOptions> {
  return { module: CLIP_TASK_MODULE, options };
}

export const createTask: CreateTask<ClipTaskOptions> = async (o) => {
  const c = o.config;
  const model = new Clip(c, o.seed);
  const px = c.imageSize * c.imageSize * c.channels;
  const task: TrainTask & { model: Clip } = {
    model,
    kind: "clip",
    config: c,
    hyper: {
      initSeed: o.seed,
      shift: o.shift,
      captionVariants: o.train.variantProbs ?? null,
      balancedSampling: !!o.train.weights,
      positives: "caption j is one of image i's caption variants",
      negatives: "within each shard the engine computes: the whole batch on ort, batch / replicas on tfjs",
      hardNegatives: o.train.negatives ? `one of ${o.train.negativesPerItem ?? 1} per row and step (near its own caption)` : null,
      decodedShare: o.train.decoded ? (o.train.decodedShare ?? 0) : 0,
      valBatch: o.valBatch ?? 128,
      valLimit: o.valLimit ?? 1024,
      ...o.notes,
    },
    params: model.params,
    // The same step as `loss` below as one ONNX graph (./native-step.ts): the default engine.
    native: clipNativeStep(c, !!o.train.negatives),
    itemCount: o.train.count,
    sampleWeights: o.train.weights,
    throughput: { unit: "img", perItem: 1 },
    // Decoupled decay on conv and linear weights only: not on gains, biases, embeddings or the temperature (§2.5).
    decays: (name) => name.endsWith(".w"),
    plan(items: Int32Array, step: number): Batch {
      const text = new Int32Array(items.length * c.textLen);
      const images = new Uint8Array(items.length * px);
      const { variants, variantProbs } = o.train;
      const v = variantProbs?.length ?? 1;
      const described = new Int32Array(items.length * v * c.textLen);
      const negativesPerItem = o.train.negativesPerItem ?? 1;
      const negatives = o.train.negatives ? new Int32Array(items.length * c.textLen) : undefined;
      const span = 2 * o.shift + 1;
      items.forEach((item, b) => {
        let caption = o.train.text.subarray(item * c.textLen, (item + 1) * c.textLen);
        if (variants && variantProbs) {
          // Which variant this row reads: by a hash of (step, row), the same on every replica and after a resume.
          let u = hashUniform(o.seed ^ 0xc11, step, b);
          let k = 0;
          while (k < v - 1 && u >= variantProbs[k]) u -= variantProbs[k++];
          caption = variants.subarray((item * v + k) * c.textLen, (item * v + k + 1) * c.textLen);
        }
        text.set(caption, b * c.textLen);
        if (negatives && o.train.negatives) {
          const pick = Math.min(negativesPerItem - 1, Math.floor(hashUniform(o.seed ^ 0xe9, step, b) * negativesPerItem));
          const row = item * negativesPerItem + pick;
          negatives.set(o.train.negatives.subarray(row * c.textLen, (row + 1) * c.textLen), b * c.textLen);
        }
        described.set((variants ?? o.train.text).subarray(item * v * c.textLen, (item + 1) * v * c.textLen), b * v * c.textLen);
        const dx = o.shift ? Math.floor(hashUniform(o.seed ^ 0xd1, step, b) * span) - o.shift : 0;
        const dy = o.shift ? Math.floor(hashUniform(o.seed ^ 0xd2, step, b) * span) - o.shift : 0;
        // Real or decoded picture: by a hash of (step, row) like every other draw, so replicas and resumes agree.
        const decoded = o.train.decoded && hashUniform(o.seed ^ 0xdc, step, b) < (o.train.decodedShare ?? 0);
        const src = (decoded ? o.train.decoded! : o.train.images).subarray(item * px, (item + 1) * px);
        shiftImage(src, images.subarray(b * px, (b + 1) * px), c.imageSize, c.imageSize, c.channels, dx, dy);
      });
      return { rows: items.length, arrays: negatives ? { images, text, described, negatives } : { images, text, described } };
    },
    loss(batch: Batch) {
      const n = batch.rows;
      const images = tf.div(
        tf.tensor4d(batch.arrays.images as Uint8Array, [n, c.imageSize, c.imageSize, c.channels], "int32"),
        255,
      ) as tf.Tensor4D; // [B, S, S, C]
      const t = batchTexts(batch, c.textLen);
      const ids = tf.tensor2d(t.texts, [t.count, c.textLen], "int32");
      const positives = tf.tensor2d(t.positives, [n, t.count]);
      const l = model.loss(images, ids, positives);
      return { loss: l.loss, logs: { i2t: l.imageToText, t2i: l.textToImage, scale: l.logitScale } };
    },
    async afterStep() {
      model.clampLogitScale();
    },
    async validate() {
      const v = await validateClip(model, o.val, o.valLimit ?? 1024, o.valBatch ?? 128);
      const scale = model.logitScale();
      const logitScale = (await scale.data())[0];
      scale.dispose();
      return { valLoss: v.loss, valImageToText1: v.imageToText1, valTextToImage1: v.textToImage1, logitScale };
    },
    dispose: () => model.dispose(),
  };
  return task;
};
