// The native engine's data-parallel replicas (one ORT session per worker thread, each on a shard of the batch):
// the pooled gradient, loss, logs and gathered outputs equal one session's on the whole batch; the state the task's
// feeds read from its store (a VQ-VAE's EMA codebook, changed by afterStep) reaches the workers; dropout masks
// differ between replicas; a graph that cannot be split is refused; the layout rule.
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeTestSetup, rel } from "../../test/fixtures/native-trainer";
import { maxRelativeError } from "../../test/fixtures/relative-error";
import { tinyGptTaskOptions, tinyVqTaskOptions } from "../../test/fixtures/tiny-task-options";
import { buildShapes } from "../data/build-shapes";
import { createTask as createGptTask, gptTaskDefinition, type GptTaskOptions } from "../gpt/task";
import { paramLayout } from "../optim/flat-adamw";
import { DEFAULT_GAN_OPTIONS } from "../vq/gan";
import { createTask as createVqTask, vqTaskDefinition, type VQTaskOptions } from "../vq/task";
import { DropoutMasks } from "./dropout-masks";
import { NativeEngine, nativeLayout } from "./native-engine";
import type { PooledGradients } from "./replicas";
import type { TaskDefinition, TrainTask } from "./task";

const dir = nativeTestSetup("native-replicas");
beforeAll(() => buildShapes({ outDir: path.join(dir(), "shapes"), seed: 3, counts: { train: 32, val: 8, test: 8 }, log: () => {} }));

const vqOptions = (more: Partial<VQTaskOptions> = {}): VQTaskOptions => tinyVqTaskOptions(dir(), {}, more);
const gptOptions = (): GptTaskOptions => tinyGptTaskOptions({}, 16);

function expectSame(got: PooledGradients, want: PooledGradients): void {
  expect(rel(got.loss, want.loss)).toBeLessThan(1e-5);
  for (const [k, v] of Object.entries(want.logs)) expect(rel(got.logs[k], v)).toBeLessThan(1e-5);
  expect(maxRelativeError(got.grads, want.grads)).toBeLessThan(1e-4);
  expect(Object.keys(got.gathered).sort()).toEqual(Object.keys(want.gathered).sort());
  for (const [k, t] of Object.entries(want.gathered)) {
    expect(got.gathered[k].shape).toEqual(t.shape);
    expect(maxRelativeError(got.gathered[k].dataSync(), t.dataSync())).toBeLessThan(1e-5);
  }
}

/** One session and two one-thread replicas of `task` (both from its parameters), closed with the task after `body`. */
async function onBoth(task: TrainTask, definition: TaskDefinition, body: (one: NativeEngine, two: NativeEngine) => Promise<void>) {
  const layout = paramLayout(task.params.trainable());
  const one = await NativeEngine.start(task, layout, 1, 8);
  const two = await NativeEngine.start(task, layout, { replicas: 2, threads: 1 }, 8, definition);
  try {
    await body(one, two);
  } finally {
    await Promise.all([one.close(), two.close()]);
    task.dispose();
  }
}

describe("native replicas", () => {
  it("two VQ-VAE replicas give one session's step, before and after afterStep changes the codebook", async () => {
    const o = vqOptions();
    const task = await createVqTask(o, "main");
    await onBoth(task, vqTaskDefinition(o), async (one, two) => {
      expect(two.parallelism).toBe(2);
      const items = (from: number) => Int32Array.from({ length: 8 }, (_, i) => from + i);
      const ctx = { step: 0, progress: 0, lr: 1e-3 };
      const batch0 = task.plan(items(0), 0);
      const want0 = await one.gradients(batch0, ctx);
      const got0 = await two.gradients(batch0, ctx);
      expectSame(got0, want0);
      // Every EMA code restarts from the gathered encoder outputs: the codebook (state, not a parameter) changes.
      await task.afterStep!(want0.gathered, { ...ctx, replica: 0 });
      tf.dispose([...Object.values(want0.gathered), ...Object.values(got0.gathered)]);
      await two.publish();
      const batch1 = task.plan(items(8), 1);
      const want1 = await one.gradients(batch1, { ...ctx, step: 1 });
      const got1 = await two.gradients(batch1, { ...ctx, step: 1 });
      expectSame(got1, want1);
      tf.dispose([...Object.values(want1.gathered), ...Object.values(got1.gathered)]);
    });
  });

  it("two GPT replicas give one session's step, and the parameters they read are the live theta", async () => {
    const o = gptOptions();
    const task = await createGptTask(o, "main");
    await onBoth(task, gptTaskDefinition(o), async (one, two) => {
      const batch = task.plan(
        Int32Array.from({ length: 8 }, (_, i) => i),
        0,
      );
      const ctx = { step: 0, progress: 0, lr: 1e-3 };
      expectSame(await two.gradients(batch, ctx), await one.gradients(batch, ctx));
      // An optimizer's in-place update of theta is what every replica reads next.
      for (const e of [one, two]) for (let i = 0; i < e.theta.length; i++) e.theta[i] *= 0.9;
      expectSame(await two.gradients(batch, { ...ctx, step: 1 }), await one.gradients(batch, { ...ctx, step: 1 }));
    });
  });

  it("draws other dropout masks for another replica's shard, and replica 0 the one-session masks", () => {
    const m = new DropoutMasks({ a: [100, 100] }, 0.1);
    const r0 = Uint8Array.from(m.draw(7, 3).a.data as Uint8Array);
    expect(m.draw(7, 3, 0).a.data).toEqual(r0);
    expect(m.draw(7, 3, 1).a.data).not.toEqual(r0);
  });

  it("refuses replicas for a graph that cannot be split by rows (a VQ-GAN's batch-wide λ)", async () => {
    const o = vqOptions({ gan: { ...DEFAULT_GAN_OPTIONS } });
    const task = await createVqTask(o, "main");
    try {
      expect(task.native?.splittable).toBe(false);
      await expect(
        NativeEngine.start(task, paramLayout(task.params.trainable()), { replicas: 2, threads: 1 }, 8, vqTaskDefinition(o)),
      ).rejects.toThrow(/cannot be split over replicas/);
    } finally {
      task.dispose();
    }
  });

  it("fails to start with the worker's reason when a worker's task does not match the main thread's", async () => {
    const task = await createGptTask(gptOptions(), "main");
    const other = tinyGptTaskOptions({ nEmbd: 24 }, 16);
    try {
      await expect(
        NativeEngine.start(task, paramLayout(task.params.trainable()), { replicas: 2, threads: 1 }, 8, gptTaskDefinition(other)),
      ).rejects.toThrow(/training worker 1: .*does not match the main thread's \(trainable variables differ\)/s);
    } finally {
      task.dispose();
    }
  });

  it("lays the cores out as replicas of ortThreads threads, or one session where the graph cannot be split", () => {
    expect(nativeLayout(2, "auto", true, 32)).toEqual({ replicas: 2, threads: 1 });
    expect(nativeLayout(2, "auto", true, 20)).toEqual({ replicas: 1, threads: 2 }); // shards of 10 rows: too small
    expect(nativeLayout(16, "auto", true, 32)).toEqual({ replicas: 2, threads: 8 });
    expect(nativeLayout(16, "auto", true, 64)).toEqual({ replicas: 4, threads: 4 });
    expect(nativeLayout(16, 4, true, 32)).toEqual({ replicas: 4, threads: 4 });
    expect(nativeLayout(2, 8, true, 32)).toEqual({ replicas: 1, threads: 2 });
    expect(nativeLayout(16, "auto", false, 32)).toEqual({ replicas: 1, threads: 16 });
    // A large model (8 × 512: ≈ 28 M parameters) keeps one session of every core under "auto"; a number given still rules.
    expect(nativeLayout(2, "auto", true, 32, 3_900_000)).toEqual({ replicas: 2, threads: 1 });
    expect(nativeLayout(2, "auto", true, 32, 27_000_000)).toEqual({ replicas: 1, threads: 2 });
    expect(nativeLayout(2, 1, true, 32, 27_000_000)).toEqual({ replicas: 2, threads: 1 });
  });
});
