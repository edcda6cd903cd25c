// The native engine on the real loop: 20 ONNX Runtime steps and 20 tfjs steps from the same weights and batches end
// at the same parameters; a resumed ORT run continues the same loss curve; dropout masks are the seeded stream; a
// task without a native graph is refused by --engine ort; 1,000 steps do not grow the process's memory.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TransformerConfig } from "../../lib/model/transformer-config";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { TINY_GPT_CONFIG, tinyGptTaskOptions } from "../../test/fixtures/tiny-task-options";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { createTask, GPT_TRAINER_DEFAULTS, gptTaskDefinition, type GptTaskOptions } from "../gpt/task";
import { FlatAdamW, paramLayout } from "../optim/flat-adamw";
import type { TrainerConfig } from "./config";
import { DropoutMasks } from "./dropout-masks";
import { NativeEngine } from "./native-engine";
import { train } from "./trainer";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-native-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const config = TINY_GPT_CONFIG;
const options = (over: Partial<TransformerConfig> = {}): GptTaskOptions => tinyGptTaskOptions(over);

const trainer = (over: Partial<TrainerConfig>): TrainerConfig => ({
  ...GPT_TRAINER_DEFAULTS,
  batchSize: 8,
  steps: 20,
  lr: 3e-3,
  warmup: 3,
  checkpointEvery: 10,
  valEvery: 10,
  logEvery: 1,
  workers: 1,
  ...over,
});

async function run(o: GptTaskOptions, t: TrainerConfig, outDir: string) {
  const task = await createTask(o, "main");
  try {
    const r = await train(task, t, {
      outDir,
      dataHash: "cafe",
      definition: gptTaskDefinition(o),
      backend: "wasm",
      log: () => {},
      progressStream: sink,
    });
    const params = new Map([...task.params.trainable()].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
    return { r, params };
  } finally {
    task.dispose();
  }
}

const losses = (outDir: string) =>
  fs
    .readFileSync(path.join(outDir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number>)
    .filter((row) => row.loss !== undefined)
    .map((row) => row.loss);

/** The worst parameter's error, each relative to its own largest value (test/fixtures/relative-error.ts). */
const paramError = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) =>
  Math.max(...[...b].map(([name, want]) => maxRelativeError(a.get(name)!, want)));

describe("the native engine on the training loop", () => {
  it("20 ORT steps end at the parameters of 20 tfjs steps (≤ 1e-3 relative), with the same loss curve", async () => {
    const o = options();
    const ort = await run(o, trainer({ engine: "ort" }), path.join(dir, "ort"));
    const tfjs = await run(o, trainer({ engine: "tfjs" }), path.join(dir, "tfjs"));
    expect(ort.r.engine).toBe("ort");
    expect(tfjs.r.engine).toBe("tfjs");
    expect(paramError(ort.params, tfjs.params)).toBeLessThan(1e-3);
    const [a, b] = [losses(path.join(dir, "ort")), losses(path.join(dir, "tfjs"))];
    expect(a).toHaveLength(20);
    a.forEach((l, i) => expect(l).toBeCloseTo(b[i], 4));
    expect(a[19]).toBeLessThan(a[0]); // it learns
    expect(ort.r.metrics.valImageNats).toBeCloseTo(tfjs.r.metrics.valImageNats, 3);
  });

  it("a resumed ORT run continues the same loss curve to the same parameters", async () => {
    // A flat schedule after warm-up (floor 1), so stopping at step 10 of a 10-step budget and going on to 20 follows
    // the learning rates of one 20-step run; dropout on, so the masks must be the same stream too.
    const o = options({ dropout: 0.1 });
    const straight = await run(o, trainer({ engine: "ort", lrFloor: 1 }), path.join(dir, "straight"));
    await run(o, trainer({ engine: "ort", lrFloor: 1, steps: 10 }), path.join(dir, "resumed"));
    const resumed = await run(o, trainer({ engine: "ort", lrFloor: 1, resume: true }), path.join(dir, "resumed"));
    expect(resumed.r.step).toBe(20);
    expect(paramError(resumed.params, straight.params)).toBeLessThan(1e-6);
    expect(losses(path.join(dir, "resumed"))).toEqual(losses(path.join(dir, "straight")));
  });

  it("--engine ort refuses a task without a native graph", async () => {
    const task = await createTask(options(), "main");
    const bare = { ...task, native: undefined, params: task.params };
    await expect(
      train(bare, trainer({ engine: "ort", steps: 1 }), {
        outDir: path.join(dir, "bare"),
        dataHash: null,
        definition: null,
        backend: "wasm",
        log: () => {},
        progressStream: sink,
      }),
    ).rejects.toThrow(/has no native graph yet; use --engine tfjs/);
    task.dispose();
  });

  it("dropout masks: the share kept is 1 − p, and the same (seed, step) draws the same masks", () => {
    const m = new DropoutMasks({ a: [1000, 100] }, 0.1);
    const first = Uint8Array.from(m.draw(7, 3).a.data as Uint8Array);
    const kept = first.reduce((s, v) => s + v, 0) / first.length;
    expect(Math.abs(kept - 0.9)).toBeLessThan(0.005);
    expect(m.draw(7, 4).a.data).not.toEqual(first);
    expect(m.draw(7, 3).a.data).toEqual(first);
  });

  it("1,000 steps do not grow the process's memory", async () => {
    const task = await createTask(options({ dropout: 0.1 }), "main");
    const layout = paramLayout(task.params.trainable());
    const engine = await NativeEngine.start(task, layout, 1, 8);
    const opt = new FlatAdamW(layout);
    try {
      const items = Int32Array.from({ length: 8 }, (_, i) => i);
      const step = async (s: number) => {
        const r = await engine.gradients(task.plan(items, s), { step: s, progress: 0, lr: 1e-3 });
        opt.apply(engine.theta, r.grads, 1e-3);
      };
      for (let s = 0; s < 100; s++) await step(s);
      global.gc?.();
      const before = process.memoryUsage().rss;
      for (let s = 100; s < 1100; s++) await step(s);
      global.gc?.();
      const grown = (process.memoryUsage().rss - before) / 2 ** 20;
      expect(grown).toBeLessThan(24);
    } finally {
      await engine.close();
      task.dispose();
    }
  });
});
