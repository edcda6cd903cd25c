// The VQ-GAN task on the native engine: ORT is its default; one ORT step equals the task's tfjs step (loss, terms,
// every gradient) where λ is measured, and the λ the graph used comes back through afterStep so that the next step,
// which holds it, equals the tfjs step holding its own; and on the loop, a few ORT steps (λ measured, held and
// re-measured) end where as many tfjs steps do, with the same adaptive weight logged at every step and checkpoints of
// one format. (The graph against the tape, and its planted bugs: ./vqgan-graph.test.ts.)
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { loadCheckpoint } from "../../lib/model/checkpoint";
import { blobPictures } from "../../test/fixtures/blob-pictures";
import {
  expectOneCheckpointFormat,
  gradError,
  nativeTestSetup,
  paramsApart,
  rel,
  runOnLoop,
  shortTrainer,
  tapeStep,
} from "../../test/fixtures/native-trainer";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { shared, type Batch } from "../loop/task";
import { paramLayout } from "../optim/flat-adamw";
import { DEFAULT_GAN_OPTIONS, type GanOptions } from "./gan";
import { createTask, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./task";

const dir = nativeTestSetup("vqgan-native");

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
        const want = tapeStep(task, layout, b, ctx);
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
    const kit = { createTask, definition: vqTaskDefinition };
    const trainer = shortTrainer(VQ_TRAINER_DEFAULTS, 8);
    const ort = await runOnLoop(kit, o, trainer, "ort", dir(), { params: "all" });
    const tfjs = await runOnLoop(kit, o, trainer, "tfjs", dir(), { params: "all" });

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
    const paramError = paramsApart(ort.params, tfjs.params);
    console.log(`VQ-GAN after 8 steps: parameters ${paramError.toExponential(2)} apart`);
    expect(paramError).toBeLessThan(1e-3);

    // One checkpoint format whichever engine wrote it, holding the task's parameters (D's among them).
    expectOneCheckpointFormat(path.join(ort.outDir, "model"), path.join(tfjs.outDir, "model"));
    const { tensors } = loadCheckpoint(path.join(ort.outDir, "model"));
    try {
      expect([...tensors.keys()].sort()).toEqual([...ort.params.keys()].sort());
      for (const [name, t] of tensors) expect(maxRelativeError(t.dataSync(), ort.params.get(name)!)).toBe(0);
    } finally {
      tf.dispose([...tensors.values()]);
    }
  });
});
