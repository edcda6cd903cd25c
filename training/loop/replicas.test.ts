// Data parallelism must not change the maths: the pooled gradient of a batch split over worker threads equals the
// gradient of the whole batch in one process, and so do the parameters after optimizer steps (weights published
// back to the workers between steps). Shards of unequal size (5 rows over 2 replicas) make a wrong weighting show.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSplit } from "../../lib/data/manifest";
import { DEFAULT_TRANSFORMER_CONFIG, type TransformerConfig } from "../../lib/model/transformer-config";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { buildShapes } from "../data/build-shapes";
import { createTask as createGptTask, GPT_TRAINER_DEFAULTS, gptTaskDefinition, type GptTaskOptions } from "../gpt/task";
import { createTask as createVqTask, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "../vq/task";
import type { TrainerConfig } from "./config";
import { layout, ReplicaPool, shardGradients } from "./replicas";
import { shared, type TaskDefinition, type TrainTask } from "./task";
import { train } from "./trainer";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

const gptConfig: TransformerConfig = {
  ...DEFAULT_TRANSFORMER_CONFIG,
  textVocab: 40,
  textLen: 6,
  padId: 0,
  imageVocab: 16,
  imageGrid: 4,
  nLayer: 1,
  nHead: 2,
  nEmbd: 16,
  dropout: 0,
};
function gptOptions(): GptTaskOptions {
  const count = 24;
  const text = shared(Int32Array.from({ length: count * gptConfig.textLen }, (_, i) => (i * 7 + 3) % 40));
  const codes = shared(Int32Array.from({ length: count * 16 }, (_, i) => (i * 5 + (i >> 4)) % 16));
  const data = { count, text, codes };
  return { config: gptConfig, seed: 3, captionDropout: 0.25, train: data, val: data, nullText: [2, 0, 0, 0, 0, 0], valLimit: 8 };
}

const vqConfig = tinyVQConfig();
function vqOptions(): VQTaskOptions {
  const t = loadSplit(path.join(dir, "shapes"), "train", 32);
  const v = loadSplit(path.join(dir, "shapes"), "val", 32);
  return {
    config: vqConfig,
    seed: 1,
    train: { ...t, data: shared(t.data) },
    val: v,
    finalTemperature: 1 / 16,
    temperatureFraction: 0.1,
    klWeight: 1e-3,
    klWarmupFraction: 0.2,
  };
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-replicas-"));
  buildShapes({ outDir: path.join(dir, "shapes"), seed: 3, counts: { train: 40, val: 8, test: 4 }, log: () => {} });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** max |a − b| / max |b| */
function relErr(a: Float32Array, b: Float32Array): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / Math.max(m, 1e-30);
}

async function paramsOf(task: TrainTask): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [name, v] of task.params.all()) out.set(name, (await v.data()) as Float32Array);
  return out;
}

type Case = { name: string; build: () => Promise<TrainTask>; definition: () => TaskDefinition; trainer: TrainerConfig };
const cases: Case[] = [
  {
    name: "transformer (caption dropout on)",
    build: () => createGptTask(gptOptions(), "main"),
    definition: () => gptTaskDefinition(gptOptions()),
    // engine "tfjs": these cases test the replicas, which the native engine (threads inside ORT) does not use.
    trainer: { ...GPT_TRAINER_DEFAULTS, batchSize: 5, warmup: 0, engine: "tfjs" },
  },
  // The VQ-VAE's EMA codebook and dead-code restarts run on the encoder outputs gathered from every replica.
  {
    name: "VQ-VAE (EMA codebook)",
    build: () => createVqTask(vqOptions(), "main"),
    definition: () => vqTaskDefinition(vqOptions()),
    trainer: { ...VQ_TRAINER_DEFAULTS, batchSize: 5, warmup: 0, engine: "tfjs" },
  },
];

describe.each(cases)("data-parallel $name", (c) => {
  it("pools the gradient of a 5-row batch over 2 replicas as one process computes it", async () => {
    const task = await c.build();
    const pool = await ReplicaPool.start(task, c.definition(), 2);
    try {
      const batch = task.plan(Int32Array.from([3, 0, 7, 11, 2]), 4);
      const ctx = { step: 4, progress: 0.1, lr: 1e-3 };
      const pooled = await pool.gradients(batch, ctx);
      const whole = new Float32Array(layout(task.params.trainable()).total);
      const single = await shardGradients(task, batch, { ...ctx, replica: 0 }, whole);
      expect(relErr(pooled.grads, whole)).toBeLessThan(1e-5);
      expect(pooled.loss).toBeCloseTo(single.loss, 5);
      // Gathered tensors (the VQ-VAE's latents and codes) hold all 5 rows, in order.
      for (const t of Object.values(pooled.gathered)) expect(t.shape[0]).toBe(5);
      tf.dispose(Object.values(pooled.gathered));
    } finally {
      await pool.close();
      task.dispose();
    }
  });

  it("gives the same parameters after 3 steps with 1 or 2 workers", async () => {
    const run = async (workers: number) => {
      const task = await c.build();
      const outDir = path.join(dir, `${c.name}-${workers}`.replace(/\W+/g, "-"));
      try {
        await train(
          task,
          { ...c.trainer, steps: 3, workers, checkpointEvery: 100, valEvery: 100 },
          { outDir, dataHash: null, definition: c.definition(), backend: "wasm", log: () => {}, progressStream: sink },
        );
        return await paramsOf(task);
      } finally {
        task.dispose();
      }
    };
    const one = await run(1);
    const two = await run(2);
    // Over all parameters at once: a few gradients are zero in exact arithmetic (e.g. the key bias, to which
    // softmax is blind), so both runs hold only rounding noise there, which Adam's first steps scale up to ±lr.
    const flat = (m: Map<string, Float32Array>) => Float32Array.from([...m.values()].flatMap((a) => [...a]));
    expect(relErr(flat(two), flat(one))).toBeLessThan(1e-5);
  });
});
