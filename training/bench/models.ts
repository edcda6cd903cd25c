// Throughput of the default models on the active backend (randomly initialised: speed does not depend on the
// weights): matMul ceiling, image tokenizer encode/decode/train images/s, transformer generation tokens/s with and
// without the KV cache at batch 1 and 8, training tokens/s, and achieved GFLOP/s counted from the config.
import * as tf from "@tensorflow/tfjs";
import { sampleImageCodes } from "../../lib/model/sample";
import { Transformer } from "../../lib/model/transformer";
import { DEFAULT_TRANSFORMER_CONFIG, imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../../lib/model/vq-config";
import { VQModel } from "../../lib/model/vq-model";

/** Best wall time of `reps` runs of an async function, in seconds (after one warm-up run). */
export async function best(reps: number, fn: () => Promise<unknown> | unknown): Promise<number> {
  await fn();
  let t = Infinity;
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await fn();
    t = Math.min(t, (performance.now() - s) / 1000);
  }
  return t;
}

export async function matmulGflops(size = 1024, reps = 3): Promise<number> {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  const t = await best(reps, async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  });
  tf.dispose([a, b]);
  return (2 * size ** 3) / t / 1e9;
}

/** GFLOP/s of back-to-back 1024³ matMuls for `seconds` (after one warm-up). */
export async function timedMatmulGflops(seconds: number, size = 1024): Promise<number> {
  const a = tf.randomNormal([size, size]);
  const b = tf.randomNormal([size, size]);
  const once = async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  };
  await once();
  let count = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    await once();
    count++;
  }
  const t = (performance.now() - start) / 1000;
  tf.dispose([a, b]);
  return (2 * size ** 3 * count) / t / 1e9;
}

export async function imageTokenizerThroughput(reps: number, trainSteps: number, config: VQConfig = DEFAULT_VQ_CONFIG) {
  const model = new VQModel(config, 1);
  const x = tf.randomUniform([64, 32, 32, 3]) as tf.Tensor4D;
  const codes = model.encode(x);
  const encode = await best(reps, () => void tf.tidy(() => model.encode(x).dataSync()));
  const decode = await best(reps, () => void tf.tidy(() => model.decode(codes).dataSync()));
  const params = [...model.params.trainable().values()];
  const train = await best(trainSteps, () => {
    const { value, grads } = tf.variableGrads(() => model.forward(x, { training: true }).loss, params);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([x, codes]);
  model.dispose();
  return { batch: 64, encodeImagesPerS: 64 / encode, decodeImagesPerS: 64 / decode, trainImagesPerS: 64 / train };
}

/** A fixed synthetic training batch for the transformer (speed does not depend on the values): text [B, T], codes [B, h·w]. */
export function syntheticGptBatch(c: TransformerConfig, batch: number): { text: tf.Tensor2D; image: tf.Tensor2D } {
  const n = imageTokens(c);
  return {
    text: tf.tensor2d(
      Array.from({ length: batch * c.textLen }, (_, i) => (i % 7) + 3),
      [batch, c.textLen],
      "int32",
    ),
    image: tf.tensor2d(
      Array.from({ length: batch * n }, (_, i) => i % c.imageVocab),
      [batch, n],
      "int32",
    ),
  };
}

export async function transformerThroughput(reps: number, trainSteps: number, c: TransformerConfig = DEFAULT_TRANSFORMER_CONFIG) {
  const model = new Transformer(c, 1);
  const prompt = [5, 6, 7, ...Array(c.textLen - 3).fill(c.padId)];
  const nul = [2, ...Array(c.textLen - 1).fill(c.padId)];
  const n = imageTokens(c);
  const gen = async (batch: number, useCache: boolean) => {
    const t = await best(
      reps,
      async () => void (await sampleImageCodes(model, prompt, nul, { n: batch, guidance: 1, temperature: 1, seed: 1, useCache })),
    );
    return (batch * n) / t;
  };
  const generation = {
    cacheB1: await gen(1, true),
    cacheB8: await gen(8, true),
    noCacheB1: await gen(1, false),
    noCacheB8: await gen(8, false),
  };
  const batch = 16;
  const { text, image } = syntheticGptBatch(c, batch);
  const params = [...model.params.trainable().values()];
  const step = await best(trainSteps, () => {
    const { value, grads } = tf.variableGrads(() => model.loss(text, image, true).loss, params);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  });
  tf.dispose([text, image]);
  const tokensPerStep = batch * (c.textLen + n - 1);
  model.dispose();
  const genFlops = generationFlopsPerToken(c);
  const trainFlops = 3 * forwardFlopsPerToken(c, c.textLen + n - 1);
  return {
    flops: { generationPerToken: genFlops, trainingPerToken: trainFlops },
    achievedGflops: {
      generationB1: (genFlops * generation.cacheB1) / 1e9,
      generationB8: (genFlops * generation.cacheB8) / 1e9,
      training: (trainFlops * tokensPerStep) / step / 1e9,
    },
    config: { nLayer: c.nLayer, nEmbd: c.nEmbd, nHead: c.nHead, textLen: c.textLen, imageTokens: n },
    generationTokensPerS: generation,
    cacheSpeedupB1: generation.cacheB1 / generation.noCacheB1,
    cacheSpeedupB8: generation.cacheB8 / generation.noCacheB8,
    trainTokensPerS: tokensPerStep / step,
    trainBatch: batch,
  };
}

/**
 * Forward FLOPs per position of a sequence of length `seq` (multiply-adds × 2): the linear layers (12·C² per layer)
 * and the two heads, plus causal attention (≈ 2·seq·C per layer: half the positions on average, scores and values).
 */
export function forwardFlopsPerToken(c: TransformerConfig, seq: number): number {
  const linear = 2 * (12 * c.nLayer * c.nEmbd * c.nEmbd + c.nEmbd * c.imageVocab);
  const attention = 2 * c.nLayer * seq * c.nEmbd;
  return linear + attention;
}

/** One generated token with the KV cache, averaged over the image: attention over ~T + N/2 cached positions. */
export function generationFlopsPerToken(c: TransformerConfig): number {
  const ctx = c.textLen + imageTokens(c) / 2;
  return 2 * (12 * c.nLayer * c.nEmbd * c.nEmbd + c.nEmbd * c.imageVocab) + 4 * c.nLayer * ctx * c.nEmbd;
}
