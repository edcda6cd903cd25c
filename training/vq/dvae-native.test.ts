// The dVAE task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss, terms, every
// gradient) mid-anneal, where τ, the KL warm-up and the step's Gumbel noise all matter; the same step fed another
// step's noise does not; and `train` picks ORT by default for a dVAE and learns.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSplit } from "../../lib/data/manifest";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { buildShapes } from "../data/build-shapes";
import type { Batch, StepContext } from "../loop/task";
import { NativeEngine } from "../loop/native-engine";
import { train } from "../loop/trainer";
import { paramLayout } from "../optim/flat-adamw";
import { createTask, gumbelStep, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./task";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-dvae-native-"));
  buildShapes({ outDir: path.join(dir, "shapes"), seed: 3, counts: { train: 64, val: 16, test: 8 }, log: () => {} });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// DALL·E's anneal (τ → 1/16) and a KL weight large enough to show in the gradients.
const options = (): VQTaskOptions => ({
  config: tinyVQConfig({ kind: "dvae" }),
  seed: 1,
  train: loadSplit(path.join(dir, "shapes"), "train", 32),
  val: loadSplit(path.join(dir, "shapes"), "val", 32),
  finalTemperature: 1 / 16,
  temperatureFraction: 0.1,
  klWeight: 0.05,
  klWarmupFraction: 0.2,
});

describe("the dVAE task on the native engine", () => {
  it("one ORT step equals the task's tfjs step mid-anneal; another step's noise does not", async () => {
    const o = options();
    const task = await createTask(o, "main");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch: Batch = task.plan(
        Int32Array.from({ length: 8 }, (_, i) => i),
        3,
      );
      const ctx = { step: 3, progress: 0.05, lr: 1e-3 };
      const s = gumbelStep(o, { ...ctx, replica: 0 });
      expect(s.temperature).toBeGreaterThan(0.3);
      expect(s.temperature).toBeLessThan(0.8);
      expect(s.klWeight).toBeCloseTo(0.0125, 6);

      const vars = [...task.params.trainable()];
      let logs: Record<string, number> = {};
      const { value, grads } = tf.variableGrads(
        () => {
          const out = task.loss(batch, { ...ctx, replica: 0 } satisfies StepContext);
          logs = Object.fromEntries(Object.entries(out.logs).map(([k, v]) => [k, v.dataSync()[0]]));
          return out.loss;
        },
        vars.map(([, v]) => v),
      );
      const want = value.dataSync()[0];
      const wantGrads = new Map(layout.names.map((name) => [name, grads[task.params.get(name).name].dataSync() as Float32Array]));
      tf.dispose([value, ...Object.values(grads)]);

      const gradError = (got: Float32Array) => {
        let offset = 0;
        let worst = 0;
        layout.names.forEach((name, i) => {
          worst = Math.max(worst, maxRelativeError(got.subarray(offset, offset + layout.sizes[i]), wantGrads.get(name)!));
          offset += layout.sizes[i];
        });
        return worst;
      };
      const got = await engine.gradients(batch, ctx);
      const lossError = Math.abs(got.loss - want) / want;
      const grad = gradError(got.grads);
      console.log(`dVAE task step: loss ${lossError.toExponential(2)}, worst gradient ${grad.toExponential(2)}`);
      expect(lossError).toBeLessThan(1e-5);
      expect(Object.keys(got.logs).sort()).toEqual(["batchKl", "kl", "reconstruction"]);
      for (const [k, v] of Object.entries(logs)) expect(Math.abs(got.logs[k] - v) / v).toBeLessThan(1e-5);
      expect(grad).toBeLessThan(1e-4);
      tf.dispose(Object.values(got.gathered));

      // Step 4's noise (its seed differs) on the same batch and weights: a different sample, a different step.
      const other = await engine.gradients(batch, { ...ctx, step: 4 });
      const otherGrad = gradError(other.grads);
      console.log(
        `dVAE task step fed step 4's noise: loss ${(Math.abs(other.loss - want) / want).toExponential(2)}, gradient ${otherGrad.toExponential(2)}`,
      );
      expect(otherGrad).toBeGreaterThan(1e-2);
      tf.dispose(Object.values(other.gathered));
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("trains on ONNX Runtime by default: the loss falls", async () => {
    const o = options();
    const task = await createTask(o, "main");
    const out = path.join(dir, "run");
    try {
      const r = await train(
        task,
        {
          ...VQ_TRAINER_DEFAULTS,
          batchSize: 16,
          steps: 30,
          lr: 3e-3,
          warmup: 2,
          checkpointEvery: 1000,
          valEvery: 1000,
          logEvery: 1,
          workers: 1,
        },
        { outDir: out, dataHash: "cafe", definition: vqTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
      );
      expect(r.engine).toBe("ort");
      const rows = fs
        .readFileSync(path.join(out, "log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, number>)
        .filter((row) => row.loss !== undefined);
      expect(rows).toHaveLength(30);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      const recon = rows.map((row) => row.reconstruction);
      expect(mean(recon.slice(-5))).toBeLessThan(0.7 * mean(recon.slice(0, 5)));
    } finally {
      task.dispose();
    }
  });
});
