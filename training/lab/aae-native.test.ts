// The adversarial autoencoder's task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss,
// recBpd, gen, disc, dAcc, every gradient), fed the noise and generator weight the tfjs loss uses for that step; fed
// another step's noise it does not; ORT is the default for the AAE; and on the loop, a few ORT steps end where as
// many tfjs steps do, with checkpoints of the same format that AAE.load reads, the exported float16 one included.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { readCheckpointManifest, saveCheckpoint } from "../../lib/model/checkpoint";
import { AAE, DEFAULT_AAE_CONFIG, type AAEConfig } from "../../lib/model/aae";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import type { TrainerConfig } from "../loop/config";
import { resolveEngine } from "../loop/engine";
import { NativeEngine } from "../loop/native-engine";
import { shared } from "../loop/task";
import { train } from "../loop/trainer";
import { paramLayout } from "../optim/flat-adamw";
import { AAE_TRAINER_DEFAULTS, aaeTaskDefinition, createTask, type AAETaskOptions } from "./aae-task";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-aae-native-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Flat-coloured squares on white, 16×16. */
function shard(count: number): Shard {
  const data = new Uint8Array(count * 16 * 16 * 3).fill(255);
  for (let i = 0; i < count; i++)
    for (let y = 4; y < 12; y++)
      for (let x = 2 + (i % 6); x < 10 + (i % 6); x++) data.set([0, (i * 60) % 256, 200], ((i * 16 + y) * 16 + x) * 3);
  return { count, height: 16, width: 16, channels: 3, data: shared(data) };
}

const CONFIG: AAEConfig = { ...DEFAULT_AAE_CONFIG, imageSize: 16, widths: [8, 16], resBlocks: 1, latentDim: 8, discHidden: 16 };

const options = (): AAETaskOptions => ({ config: CONFIG, seed: 1, train: shard(16), val: shard(4), advWeight: 50, advWarmupFraction: 0.2 });

describe("the AAE task on the native engine", () => {
  it("one ORT step equals the task's tfjs step; another step's noise does not; ORT is the default", async () => {
    const task = await createTask(options(), "main");
    expect(resolveEngine("auto", task)).toBe("ort");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    try {
      const batch = task.plan(
        Int32Array.from({ length: 8 }, (_, i) => i),
        5,
      );
      // Progress 0.1 of a 0.2 warm-up: the generator term at half its weight, so a graph that ignored it would be seen.
      const ctx = { step: 5, progress: 0.1, lr: 1e-3 };
      const vars = [...task.params.trainable()];
      let logs: Record<string, number> = {};
      const { value, grads } = tf.variableGrads(
        () => {
          const out = task.loss(batch, { ...ctx, replica: 0 });
          logs = Object.fromEntries(Object.entries(out.logs).map(([k, v]) => [k, v.dataSync()[0]]));
          return out.loss;
        },
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
      console.log(`AAE task step: loss ${rel(got.loss, want).toExponential(2)}, worst gradient ${grad.toExponential(2)}`);
      expect(rel(got.loss, want)).toBeLessThan(1e-5);
      expect(Object.keys(got.logs).sort()).toEqual(["dAcc", "disc", "gen", "recBpd"]);
      for (const k of ["recBpd", "gen", "disc", "dAcc"]) expect(rel(got.logs[k], logs[k])).toBeLessThan(1e-5);
      expect(grad).toBeLessThan(1e-4);

      // Step 6's noise for the same batch: another z and other prior samples, another gradient.
      const other = await engine.gradients(batch, { ...ctx, step: 6 });
      const otherGrad = gradError(other.grads);
      console.log(`AAE task step fed step 6's noise: gradient ${otherGrad.toExponential(2)}`);
      expect(otherGrad).toBeGreaterThan(1e-2);
    } finally {
      await engine.close();
      task.dispose();
    }
  });

  it("6 ORT steps on the loop end at the parameters of 6 tfjs steps; both checkpoints have one format and load", async () => {
    const o = options();
    const trainer: TrainerConfig = {
      ...AAE_TRAINER_DEFAULTS,
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
          {
            outDir,
            dataHash: "cafe",
            definition: aaeTaskDefinition(o),
            backend: "wasm",
            log: () => {},
            progressStream: sink,
          },
        );
        expect(r.engine).toBe(engine);
        // The export train:lab writes (float16), from the engine's synced ParamStore.
        await saveCheckpoint(path.join(outDir, "export"), task.params.all(), { kind: task.kind, config: task.config, dtype: "float16" });
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
    console.log(`AAE after 6 steps: parameters ${paramError.toExponential(2)} apart; losses ${ort.losses.map((l) => l.toFixed(4))}`);
    expect(paramError).toBeLessThan(1e-3);
    expect(ort.losses).toHaveLength(6);
    ort.losses.forEach((l, i) => expect(l).toBeCloseTo(tfjs.losses[i], 4));
    expect(ort.losses[5]).toBeLessThan(ort.losses[0]); // it learns
    expect(ort.r.metrics.valRecBitsPerDim).toBeCloseTo(tfjs.r.metrics.valRecBitsPerDim, 3);

    // One checkpoint format whichever engine wrote it: the same kind, config and tensors, and AAE.load reads both.
    for (const folder of ["model", "export"]) {
      const [a, b] = [readCheckpointManifest(path.join(ort.outDir, folder)), readCheckpointManifest(path.join(tfjs.outDir, folder))];
      expect([a.kind, a.config, a.weights.dtype]).toEqual([b.kind, b.config, b.weights.dtype]);
      expect(a.weights.tensors).toEqual(b.weights.tensors);
      const { model } = AAE.load(path.join(ort.outDir, folder));
      try {
        expect(model.config).toEqual(CONFIG);
        const tol = folder === "export" ? 2e-3 : 1e-7; // float16 keeps 11 bits
        for (const [name, want] of ort.params) expect(maxRelativeError(model.params.get(name).dataSync(), want)).toBeLessThan(tol);
      } finally {
        model.dispose();
      }
    }
  });
});
