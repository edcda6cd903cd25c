// Real-NVP's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss and every gradient,
// on scrambled weights so no coupling is the identity), fed the dequantisation noise the tfjs loss draws for that
// step; fed another step's noise it does not; ORT is the default for the flow; and on the loop, a few ORT steps end
// where as many tfjs steps do, with checkpoints of the same format that RealNVP.load reads. (Learning and the
// metrics on the loop: ./flow-task.test.ts.)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { RealNVP } from "../../lib/model/flow";
import { DEFAULT_FLOW_CONFIG, type FlowConfig } from "../../lib/model/flow-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import type { TrainerConfig } from "../loop/config";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { shared, type TrainTask } from "../loop/task";
import { train } from "../loop/trainer";
import { paramLayout } from "../optim/flat-adamw";
import { createTask, FLOW_TRAINER_DEFAULTS, flowTaskDefinition, type FlowTaskOptions } from "./flow-task";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-flow-native-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Flat-coloured squares on a dark ground with a little grain, 8×8 RGB. */
function shard(count: number): Shard {
  const data = new Uint8Array(count * 8 * 8 * 3);
  for (let k = 0; k < data.length; k++) {
    const i = Math.floor(k / 192);
    const p = Math.floor(k / 3) % 64;
    const [y, x] = [Math.floor(p / 8), p % 8];
    const inside = Math.abs(y - 3 - (i % 2)) < 2 && Math.abs(x - 3 - ((i >> 1) % 2)) < 2;
    data[k] = (inside ? 200 : 30) + ((k * 7) % 23);
  }
  return { count, height: 8, width: 8, channels: 3, data: shared(data) };
}

/** Both scales' machinery (checkerboards, squeeze, channel couplings, factor-out) and a residual block. */
const CONFIG: FlowConfig = { ...DEFAULT_FLOW_CONFIG, imageSize: 8, scales: 2, hidden: [4, 6], resBlocks: 1 };

const options = (): FlowTaskOptions => ({ config: CONFIG, seed: 1, train: shard(16), val: shard(4) });

/** Every weight of the task's flow random, so every parameter has a gradient (at init most are zero). */
function scramble(task: TrainTask): void {
  let k = 0;
  for (const [name, v] of task.params.all())
    tf.tidy(() =>
      v.assign(
        name.endsWith(".scale") ? tf.randomUniform(v.shape, 0.5, 1.5, "float32", k++) : tf.randomNormal(v.shape, 0, 0.15, "float32", k++),
      ),
    );
}

describe("the Real-NVP task on the native engine", () => {
  it("one ORT step equals the task's tfjs step; another step's noise does not; ORT is the default", async () => {
    const task = await createTask(options(), "main");
    expect(resolveEngine("auto", task)).toBe("ort");
    scramble(task);
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch = task.plan(
        Int32Array.from({ length: 8 }, (_, i) => i),
        5,
      );
      const ctx = { step: 5, progress: 0.1, lr: 1e-3 };
      const vars = [...task.params.trainable()];
      const { value, grads } = tf.variableGrads(
        () => task.loss(batch, { ...ctx, replica: 0 }).loss,
        vars.map(([, v]) => v),
      );
      const want = value.dataSync()[0];
      const wantGrads = layout.names.map((name) => grads[task.params.get(name).name].dataSync() as Float32Array);
      tf.dispose([value, ...Object.values(grads)]);
      const gradError = (got: Float32Array) => {
        let offset = 0;
        let worst = 0;
        layout.sizes.forEach((size, i) => {
          worst = Math.max(worst, maxRelativeError(got.subarray(offset, offset + size), wantGrads[i]));
          offset += size;
        });
        return worst;
      };
      const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-6);

      const got = await engine.gradients(batch, ctx);
      const grad = gradError(got.grads);
      console.log(`flow task step: loss ${rel(got.loss, want).toExponential(2)}, worst gradient ${grad.toExponential(2)}`);
      expect(rel(got.loss, want)).toBeLessThan(1e-5);
      expect(got.logs).toEqual({});
      expect(grad).toBeLessThan(1e-4);

      // Step 6's noise for the same batch: another y, another gradient.
      const other = await engine.gradients(batch, { ...ctx, step: 6 });
      const otherGrad = gradError(other.grads);
      console.log(
        `flow task step fed step 6's noise: loss ${rel(other.loss, want).toExponential(2)}, gradient ${otherGrad.toExponential(2)}`,
      );
      expect(otherGrad).toBeGreaterThan(1e-2);
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("6 ORT steps on the loop end at the parameters of 6 tfjs steps; both checkpoints have one format and load", async () => {
    const o = options();
    const trainer: TrainerConfig = {
      ...FLOW_TRAINER_DEFAULTS,
      batchSize: 8,
      steps: 6,
      warmup: 2,
      checkpointEvery: 6,
      valEvery: 6,
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
          { outDir, dataHash: "cafe", definition: flowTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
        );
        expect(r.engine).toBe(engine);
        const params = new Map([...task.params.trainable()].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
        const losses = fs
          .readFileSync(path.join(outDir, "log.jsonl"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as Record<string, number>)
          .filter((row) => row.loss !== undefined)
          .map((row) => row.loss);
        return { r, params, losses, outDir };
      } finally {
        task.dispose();
      }
    };
    const ort = await run("ort");
    const tfjs = await run("tfjs");

    const paramError = Math.max(...[...tfjs.params].map(([name, want]) => maxRelativeError(ort.params.get(name)!, want)));
    console.log(`flow after 6 steps: parameters ${paramError.toExponential(2)} apart; losses ${ort.losses.map((l) => l.toFixed(4))}`);
    expect(paramError).toBeLessThan(1e-3);
    expect(ort.losses).toHaveLength(6);
    ort.losses.forEach((l, i) => expect(l).toBeCloseTo(tfjs.losses[i], 4));
    expect(ort.losses[5]).toBeLessThan(ort.losses[0]); // it learns
    expect(ort.r.metrics.valBitsPerDim).toBeCloseTo(tfjs.r.metrics.valBitsPerDim, 3);

    // One checkpoint format whichever engine wrote it: the same kind, config and tensors, and RealNVP.load reads it.
    const [a, b] = [readCheckpointManifest(path.join(ort.outDir, "model")), readCheckpointManifest(path.join(tfjs.outDir, "model"))];
    expect([a.kind, a.config, a.weights.dtype]).toEqual([b.kind, b.config, b.weights.dtype]);
    expect(a.weights.tensors).toEqual(b.weights.tensors);
    const { model } = RealNVP.load(path.join(ort.outDir, "model"));
    try {
      expect(model.config).toEqual(CONFIG);
      for (const [name, want] of ort.params) expect(maxRelativeError(model.params.get(name).dataSync(), want)).toBe(0);
    } finally {
      model.dispose();
    }
  });
});
