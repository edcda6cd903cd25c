// One data-parallel replica (see replicas.ts): rebuilds the task from its definition on its own tfjs backend, then
// for each step loads the main thread's latest weights, computes its shard's gradient into shared memory and
// reports the scalars.
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { assignFromFlat, layout, shardGradients } from "./replicas";
import type { Batch, CreateTask, StepContext, TaskDefinition } from "./task";

interface WorkerData {
  definition: TaskDefinition;
  replica: number;
  ctrl: Int32Array;
  weights: Float32Array;
  grads: SharedArrayBuffer;
  layout: { all: ReturnType<typeof layout>; trainable: ReturnType<typeof layout> };
}

const port = parentPort!;
const d = workerData as WorkerData;

async function main(): Promise<void> {
  await initBackend({ log: { info() {}, warn: (m: string) => console.warn(`[worker ${d.replica}] ${m}`) } });
  registerFastGradients();
  const { createTask } = (await import(d.definition.module)) as { createTask: CreateTask<unknown> };
  const task = await createTask(d.definition.options, "worker");
  const mine = { all: layout(task.params.all()), trainable: layout(task.params.trainable()) };
  for (const k of ["all", "trainable"] as const) {
    if (mine[k].names.join() !== d.layout[k].names.join() || mine[k].sizes.join() !== d.layout[k].sizes.join()) {
      throw new Error(
        `the worker's model does not match the main thread's (${k} parameters differ): was it built from the same definition?`,
      );
    }
  }
  const grads = new Float32Array(d.grads);
  let loaded = -1;
  port.on("message", (m: { type: "step"; batch: Batch; ctx: StepContext; version: number }) => {
    void (async () => {
      try {
        const version = Atomics.load(d.ctrl, 0);
        if (version !== loaded) {
          assignFromFlat(task.params.all(), d.weights);
          loaded = version;
        }
        const result = await shardGradients(task, m.batch, m.ctx, grads);
        Atomics.store(d.ctrl, d.replica, m.ctx.step);
        port.postMessage({ type: "done", result });
      } catch (err) {
        port.postMessage({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      }
    })();
  });
  port.postMessage({ type: "ready" });
}

main().catch((err: unknown) =>
  port.postMessage({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
);
