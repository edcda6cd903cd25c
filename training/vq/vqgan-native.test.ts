// The VQ-GAN task on the native engine: ORT is its default; one ORT step equals the task's tfjs step (loss, terms,
// every gradient) where λ is measured, and the λ the graph used comes back through afterStep so that the next step,
// which holds it, equals the tfjs step holding its own; and on the loop, a few ORT steps (λ measured, held and
// re-measured) end where as many tfjs steps do, with the same adaptive weight logged at every step and checkpoints of
// one format. (The graph against the tape, and its planted bugs: ./vqgan-graph.test.ts.)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { loadCheckpoint, readCheckpointManifest } from "../../lib/model/checkpoint";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { blobPictures } from "../../test/fixtures/blob-pictures";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import type { TrainerConfig } from "../loop/config";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { shared, type Batch, type TrainTask } from "../loop/task";
import { train } from "../loop/trainer";
import { paramLayout, type ParamLayout } from "../optim/flat-adamw";
import { DEFAULT_GAN_OPTIONS, type GanOptions } from "./gan";
import { createTask, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./task";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-vqgan-native-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SIZE = 16;
const shard = (count: number, seed: number): Shard => ({
  count,
  height: SIZE,
  width: SIZE,
  channels: 3,
  data: shared(blobPictures(count, SIZE, seed)),
});

const options = (gan: Partial<GanOptions>): VQTaskOptions => ({
  config: tinyVQConfig({ imageSize: SIZE }),
  seed: 1,
  train: shard(32, 1),
  val: shard(8, 2),
  finalTemperature: 1,
  temperatureFraction: 0.1,
  klWeight: 5e-4,
  klWarmupFraction: 0.2,
  gan: { ...DEFAULT_GAN_OPTIONS, ...gan },
});

/** The tfjs tape's loss, logs and gradients (in layout order) of the task's loss on a batch at a step. */
function tape(task: TrainTask, layout: ParamLayout, batch: Batch, ctx: { step: number; progress: number; lr: number }) {
  let logs: Record<string, number> = {};
  const { value, grads } = tf.variableGrads(
    () => {
      const out = task.loss(batch, { ...ctx, replica: 0 });
      logs = Object.fromEntries(Object.entries(out.logs).map(([k, v]) => [k, v.dataSync()[0]]));
      return out.loss;
    },
    [...task.params.trainable()].map(([, v]) => v),
  );
  const want = {
    loss: value.dataSync()[0],
    logs,
    grads: layout.names.map((n) => grads[task.params.get(n).name].dataSync() as Float32Array),
  };
  tf.dispose([value, ...Object.values(grads)]);
  return want;
}

/** The worst gradient error of a flat ORT gradient against the tape's, parameter by parameter. */
function gradError(layout: ParamLayout, got: Float32Array, want: Float32Array[]): number {
  let offset = 0;
  let worst = 0;
  layout.sizes.forEach((size, i) => {
    worst = Math.max(worst, maxRelativeError(got.subarray(offset, offset + size), want[i]));
    offset += size;
  });
  return worst;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

describe("the VQ-GAN task on the native engine", () => {
  it("ORT is the default; a step measuring λ equals tfjs; the λ it used, handed back by afterStep, is held next step alike", async () => {
    const task = await createTask(options({ start: 0, lambdaEvery: 10 }), "main");
    expect(resolveEngine("auto", task)).toBe("ort");
    const layout = paramLayout(task.params.trainable());
    expect(layout.names.some((n) => n.startsWith("disc."))).toBe(true);
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch = (from: number) =>
        task.plan(
          Int32Array.from({ length: 8 }, (_, i) => from + i),
          from,
        );
      const check = async (b: Batch, step: number) => {
        const ctx = { step, progress: 0.1, lr: 1e-3 };
        const got = await engine.gradients(b, ctx); // first: the tfjs loss re-measures λ where the plan says so
        const want = tape(task, layout, b, ctx);
        const grad = gradError(layout, got.grads, want.grads);
        console.log(
          `VQ-GAN step ${step}: ganWeight ${got.logs.ganWeight}, loss ${rel(got.loss, want.loss).toExponential(2)}, gradient ${grad.toExponential(2)}`,
        );
        expect(Object.keys(got.logs).sort()).toEqual(Object.keys(want.logs).sort());
        expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
        for (const [k, v] of Object.entries(want.logs)) expect(rel(got.logs[k], v)).toBeLessThan(1e-4);
        expect(grad).toBeLessThan(1e-4);
        return got;
      };
      // Step 1: no λ held yet, so both measure it (the tfjs objective keeps its own).
      const first = await check(batch(0), 1);
      expect(first.gathered.ganLambda.shape).toEqual([]);
      const lambda = first.gathered.ganLambda.dataSync()[0];
      expect(first.logs.ganWeight).toBeCloseTo(lambda * DEFAULT_GAN_OPTIONS.discWeight, 6);
      // afterStep holds the graph's λ (and runs the EMA update); step 2 holds it on both engines.
      await task.afterStep!(first.gathered, { step: 1, progress: 0.1, lr: 1e-3, replica: 0 });
      tf.dispose(Object.values(first.gathered));
      const second = await check(batch(8), 2);
      expect(second.gathered.ganLambda.dataSync()[0]).toBe(Math.fround(lambda));
      tf.dispose(Object.values(second.gathered));
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("8 ORT steps on the loop end at the parameters of 8 tfjs steps, with the same adaptive weight at every step", async () => {
    // λ: off at steps 0–1; measured at 2 (none held yet) and at 3 and 6 (multiples of lambdaEvery); held at 4–5 and 7.
    const o = options({ start: 2, lambdaEvery: 3 });
    const trainer: TrainerConfig = {
      ...VQ_TRAINER_DEFAULTS,
      batchSize: 8,
      steps: 8,
      warmup: 2,
      checkpointEvery: 8,
      valEvery: 8,
      logEvery: 1,
      workers: 1,
    };
    const run = async (engine: "ort" | "tfjs") => {
      const task = await createTask(o, "main");
      const outDir = path.join(dir, engine);
      try {
        const r = await train(
          task,
          { ...trainer, engine },
          { outDir, dataHash: "cafe", definition: vqTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
        );
        expect(r.engine).toBe(engine);
        const params = new Map([...task.params.all()].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
        const rows = fs
          .readFileSync(path.join(outDir, "log.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, number>)
          .filter((row) => row.loss !== undefined);
        return { params, rows, outDir };
      } finally {
        task.dispose();
      }
    };
    const ort = await run("ort");
    const tfjs = await run("tfjs");

    const weights = (rows: Record<string, number>[]) => rows.map((row) => row.ganWeight);
    console.log(
      `VQ-GAN ganWeight per step: ort ${weights(ort.rows).map((w) => w.toFixed(4))}, tfjs ${weights(tfjs.rows).map((w) => w.toFixed(4))}`,
    );
    expect(ort.rows).toHaveLength(8);
    expect(weights(ort.rows).slice(0, 2)).toEqual([0, 0]);
    expect(weights(ort.rows)[4]).toBe(weights(ort.rows)[3]); // held
    expect(weights(ort.rows)[6]).not.toBe(weights(ort.rows)[5]); // re-measured
    ort.rows.forEach((row, i) => {
      expect(row.loss).toBeCloseTo(tfjs.rows[i].loss, 4);
      expect(rel(row.ganWeight, tfjs.rows[i].ganWeight)).toBeLessThan(1e-3);
    });
    // Every parameter, the discriminator's, the EMA codebook and its statistics included.
    const paramError = Math.max(...[...tfjs.params].map(([name, want]) => maxRelativeError(ort.params.get(name)!, want)));
    console.log(`VQ-GAN after 8 steps: parameters ${paramError.toExponential(2)} apart`);
    expect(paramError).toBeLessThan(1e-3);

    // One checkpoint format whichever engine wrote it, holding the task's parameters (D's among them).
    const [a, b] = [readCheckpointManifest(path.join(ort.outDir, "model")), readCheckpointManifest(path.join(tfjs.outDir, "model"))];
    expect([a.kind, a.config, a.weights.dtype, a.weights.tensors]).toEqual([b.kind, b.config, b.weights.dtype, b.weights.tensors]);
    const { tensors } = loadCheckpoint(path.join(ort.outDir, "model"));
    try {
      expect([...tensors.keys()].sort()).toEqual([...ort.params.keys()].sort());
      for (const [name, t] of tensors) expect(maxRelativeError(t.dataSync(), ort.params.get(name)!)).toBe(0);
    } finally {
      tf.dispose([...tensors.values()]);
    }
  });
});
