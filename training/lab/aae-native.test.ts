// The adversarial autoencoder's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss,
// recBpd, gen, disc, dAcc, advWeight, every gradient), fed the noise and generator weight the tfjs loss uses for that
// step; fed another step's noise it does not; ORT is the default for the AAE; and on the loop, a few ORT steps end
// where as many tfjs steps do, with checkpoints of the same format that AAE.load reads, the exported float16 one
// included. (The two tests: test/fixtures/native-trainer.ts.) With the adaptive λ (./aae-lambda.ts): a step that
// measures λ equals tfjs's, the λ the graph used comes back through afterStep so that the next step, which holds
// it, equals the tfjs step holding its own; and on the loop, ORT and tfjs log the same λ at every step (measured,
// held, re-measured) and end at the same parameters. (The graph against the tape, and λ's plants:
// lib/model/onnx/aae-training-graph.test.ts.)
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { AAE, DEFAULT_AAE_CONFIG, type AAEConfig } from "../../lib/model/aae";
import { AAE_LAMBDA } from "../../lib/model/onnx/aae-training-graph";
import {
  expectOneCheckpointFormat,
  gradError,
  itMatchesTfjsLoop,
  itMatchesTfjsStep,
  nativeTestSetup,
  paramsApart,
  rel,
  runOnLoop,
  shortTrainer,
  squaresShard,
  tapeStep,
  type TaskKit,
} from "../../test/fixtures/native-trainer";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import type { Batch } from "../loop/task";
import { paramLayout } from "../optim/flat-adamw";
import { AAE_TRAINER_DEFAULTS, aaeTaskDefinition, createTask, type AAETaskOptions } from "./aae-task";

const dir = nativeTestSetup("aae-native");

const CONFIG: AAEConfig = { ...DEFAULT_AAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1, latentDim: 8, discHidden: 16 };

const AAE_TASK: TaskKit<AAETaskOptions> = {
  options: () => ({ config: CONFIG, seed: 1, train: squaresShard(16), val: squaresShard(4), advWeight: 50, advWarmupFraction: 0.2 }),
  createTask,
  definition: aaeTaskDefinition,
  defaults: AAE_TRAINER_DEFAULTS,
};

/** The adaptive λ, re-measured every 3 steps, ramped in over half the budget. */
const adaptiveOptions = (): AAETaskOptions => ({
  ...AAE_TASK.options(),
  advWeight: undefined,
  adaptive: { factor: 1, every: 3 },
  advWarmupFraction: 0.5,
});

describe("the AAE task on the native engine", () => {
  // Step 5 at progress 0.1 of a 0.2 warm-up: the generator term at half its weight, so a graph that ignored it would
  // be seen. Step 6's noise for the same batch: another z and other prior samples, another gradient.
  itMatchesTfjsStep({
    model: "AAE",
    task: AAE_TASK,
    draw: "noise",
    logs: { recBpd: 1e-5, gen: 1e-5, disc: 1e-5, dAcc: 1e-5, advWeight: 1e-6 },
  });

  itMatchesTfjsLoop({
    model: "AAE",
    task: AAE_TASK,
    dir,
    metric: "valRecBitsPerDim",
    folders: { model: 1e-7, export: 2e-3 }, // float16 keeps 11 bits
    load: (folder) => AAE.load(folder),
    config: CONFIG,
  });
});

describe("the AAE task with the adaptive λ on the native engine", () => {
  it("a step measuring λ equals tfjs; the λ it used, handed back by afterStep, is held next step alike", async () => {
    const task = await createTask(adaptiveOptions(), "main");
    expect(resolveEngine("auto", task)).toBe("ort");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch = (from: number) =>
        task.plan(
          Int32Array.from({ length: 8 }, (_, i) => from + i),
          from,
        );
      const check = async (b: Batch, step: number) => {
        const ctx = { step, progress: 0.25, lr: 1e-3 }; // the generator term half ramped in
        const got = await engine.gradients(b, ctx); // first: the tfjs loss measures λ where the plan says so, and holds it
        const want = tapeStep(task, layout, b, ctx);
        const grad = gradError(layout, got.grads, want.grads);
        console.log(
          `AAE step ${step}: λ ${got.logs[AAE_LAMBDA]}, advWeight ${got.logs.advWeight}, loss ${rel(got.loss, want.loss).toExponential(2)}, gradient ${grad.toExponential(2)}`,
        );
        expect(Object.keys(got.logs).sort()).toEqual(Object.keys(want.logs).sort());
        expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
        for (const [k, v] of Object.entries(want.logs)) expect(rel(got.logs[k], v)).toBeLessThan(1e-4);
        expect(grad).toBeLessThan(1e-4);
        return got;
      };
      // Step 1: no λ held yet, so both measure it (the tfjs loss keeps its own).
      const first = await check(batch(0), 1);
      expect(first.gathered[AAE_LAMBDA].shape).toEqual([]);
      const lambda = first.gathered[AAE_LAMBDA].dataSync()[0];
      expect(lambda).toBeGreaterThan(0);
      expect(first.logs.advWeight).toBeCloseTo(lambda * 0.5 * 16 * 16 * 3, 2); // factor·ramp·λ per pixel value, × D
      // afterStep holds the graph's λ; step 2 (no multiple of 3) holds it on both engines, on another batch.
      await task.afterStep!(first.gathered, { step: 1, progress: 0.25, lr: 1e-3, replica: 0 });
      tf.dispose(Object.values(first.gathered));
      const second = await check(batch(8), 2);
      expect(second.gathered[AAE_LAMBDA].dataSync()[0]).toBe(Math.fround(lambda));
      tf.dispose(Object.values(second.gathered));
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("8 ORT steps on the loop end at the parameters of 8 tfjs steps, with the same λ at every step", async () => {
    // λ: measured at 0 (none held), 3 and 6 (multiples of every); held at 1–2, 4–5 and 7.
    const o = adaptiveOptions();
    const kit = { createTask, definition: aaeTaskDefinition };
    const trainer = shortTrainer(AAE_TRAINER_DEFAULTS, 8);
    // A folder of its own: the loop appends to a run's log.jsonl, and the fixed-λ runs above used <dir>/<engine>.
    const runs = path.join(dir(), "adaptive");
    const ort = await runOnLoop(kit, o, trainer, "ort", runs);
    const tfjs = await runOnLoop(kit, o, trainer, "tfjs", runs);

    const lambdas = (rows: Record<string, number>[]) => rows.map((row) => row[AAE_LAMBDA]);
    console.log(`AAE λ per step: ort ${lambdas(ort.rows).map((l) => l.toFixed(4))}, tfjs ${lambdas(tfjs.rows).map((l) => l.toFixed(4))}`);
    expect(ort.rows).toHaveLength(8);
    const l = lambdas(ort.rows);
    expect(l[1]).toBe(l[0]); // held
    expect(l[2]).toBe(l[0]);
    expect(l[3]).not.toBe(l[2]); // re-measured
    expect(l[4]).toBe(l[3]);
    expect(l[6]).not.toBe(l[5]);
    expect(ort.rows[0].advWeight).toBe(0); // progress 0: not ramped in yet
    ort.rows.forEach((row, i) => {
      expect(row.loss).toBeCloseTo(tfjs.rows[i].loss, 4);
      expect(rel(row[AAE_LAMBDA], tfjs.rows[i][AAE_LAMBDA])).toBeLessThan(1e-3);
      expect(rel(row.advWeight, tfjs.rows[i].advWeight)).toBeLessThan(1e-3);
    });
    const paramError = paramsApart(ort.params, tfjs.params);
    console.log(`AAE (adaptive λ) after 8 steps: parameters ${paramError.toExponential(2)} apart`);
    expect(paramError).toBeLessThan(1e-3);
    expectOneCheckpointFormat(path.join(ort.outDir, "model"), path.join(tfjs.outDir, "model"));
  });
});
