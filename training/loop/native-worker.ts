// One ONNX Runtime replica of the native engine (./native-engine.ts) on a worker thread: rebuilds the task from its
// definition, then for each step takes the main thread's latest state variables (when they changed), runs its shard
// through its own session — parameters read from the main thread's shared `theta`, gradients written into this
// replica's shared buffer — and reports the scalars and gathered outputs.
import { parentPort, workerData } from "node:worker_threads";
import { initBackend } from "../../lib/tensor/backend";
import type { ParamLayout } from "../optim/flat-adamw";
import { NativeShard } from "./native-shard";
import { stateVars } from "./native-engine";
import { assignFromFlat, layout } from "./replicas";
import type { Batch, CreateTask, StepContext, TaskDefinition } from "./task";

interface WorkerData {
  definition: TaskDefinition;
  replica: number;
  threads: number;
  theta: Float32Array;
  grads: Float32Array;
  state: Float32Array;
  ctrl: Int32Array;
  layout: { trainable: ParamLayout; state: ParamLayout };
}

const port = parentPort!;
const d = workerData as WorkerData;
const fail = (err: unknown) =>
  port.postMessage({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });

async function main(): Promise<void> {
  // tfjs holds the task's model (the graphs are built from it); ORT does the work.
  await initBackend({ log: { info() {}, warn: (m: string) => console.warn(`[worker ${d.replica}] ${m}`) } });
  const { createTask } = (await import(d.definition.module)) as { createTask: CreateTask<unknown> };
  const task = await createTask(d.definition.options, "worker");
  const mine = { trainable: layout(task.params.trainable()), state: layout(stateVars(task.params)) };
  for (const k of ["trainable", "state"] as const) {
    if (mine[k].names.join() !== d.layout[k].names.join() || mine[k].sizes.join() !== d.layout[k].sizes.join())
      throw new Error(
        `the worker's model does not match the main thread's (${k} variables differ): was it built from the same definition?`,
      );
  }
  const shard = new NativeShard(task, mine.trainable, d.theta, d.grads, d.threads);
  let loaded = -1;
  port.on("message", (m: { type: "step"; batch: Batch; ctx: StepContext; version: number }) => {
    void (async () => {
      try {
        const version = Atomics.load(d.ctrl, 0);
        if (version !== loaded && d.state.length) assignFromFlat(stateVars(task.params), d.state);
        loaded = version;
        const result = await shard.run(m.batch, m.ctx);
        Atomics.store(d.ctrl, d.replica, m.ctx.step);
        port.postMessage({ type: "done", result });
      } catch (err) {
        fail(err);
      }
    })();
  });
  port.postMessage({ type: "ready" });
}

main().catch(fail);
