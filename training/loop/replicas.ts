// Data-parallel gradients over worker threads (the synchronous data parallelism of Krizhevsky 2014 / Goyal et al.
// 2017): the main thread is replica 0 and each worker thread owns its own tfjs-wasm instance and a copy of the
// model. A step splits the batch by rows, every replica computes the gradient of its shard's mean loss, and the
// main thread averages them weighted by rows, which is exactly the gradient of the whole batch's mean loss. The
// optimizer runs once, on the main thread, and the new weights go back to the workers.
//
// Gradients and weights travel through SharedArrayBuffers (one gradient region per worker, one weight region
// for all); the few scalars and the `gather` tensors go by message. Atomics on a small control array order the
// writes with the messages.
import * as tf from "@tensorflow/tfjs";
import { paramLayout } from "../optim/flat-adamw";
import type { Batch, StepContext, TaskDefinition, TrainTask } from "./task";
import { pooledGradients, WorkerPool, type PooledGradients, type ShardResult, type Wire } from "./worker-pool";

export type { PooledGradients, ShardResult } from "./worker-pool";

/** Names, shapes and sizes of a store's tensors in order: both sides must agree on it before sharing flat buffers. */
export const layout = paramLayout;

/** The loss of one shard under the gradient tape; writes d loss / d θ (trainable order) into `out`. */
export async function shardGradients(task: TrainTask, batch: Batch, ctx: StepContext, out: Float32Array): Promise<ShardResult> {
  const started = performance.now();
  const vars = [...task.params.trainable().values()];
  let logs: Record<string, tf.Scalar> = {};
  let gather: Record<string, tf.Tensor> = {};
  const { value, grads } = tf.variableGrads(() => {
    const o = task.loss(batch, ctx);
    logs = Object.fromEntries(Object.entries(o.logs).map(([k, t]) => [k, tf.keep(t)]));
    gather = Object.fromEntries(Object.entries(o.gather ?? {}).map(([k, t]) => [k, tf.keep(t)]));
    return o.loss;
  }, vars);
  try {
    let offset = 0;
    for (const v of vars) {
      const g = grads[v.name];
      // A parameter the loss does not reach (e.g. a head unused by this task) has a zero gradient.
      if (g) out.set((await g.data()) as Float32Array, offset);
      else out.fill(0, offset, offset + v.size);
      offset += v.size;
    }
    const result: ShardResult = { rows: batch.rows, ms: 0, loss: (await value.data())[0], logs: {}, gather: {} };
    for (const [k, t] of Object.entries(logs)) result.logs[k] = (await t.data())[0];
    for (const [k, t] of Object.entries(gather))
      result.gather[k] = { data: (await t.data()) as Wire["data"], shape: t.shape, dtype: t.dtype };
    result.ms = performance.now() - started;
    return result;
  } finally {
    tf.dispose([value, ...Object.values(grads), ...Object.values(logs), ...Object.values(gather)]);
  }
}

/** Copies every variable of `vars` into the flat `view` (map order = layout order). */
export function copyToFlat(vars: Map<string, tf.Variable>, view: Float32Array): void {
  let offset = 0;
  for (const v of vars.values()) {
    view.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
}

/** Assigns every variable of `vars` from the flat `view` (map order = layout order). */
export function assignFromFlat(vars: Map<string, tf.Variable>, view: Float32Array): void {
  let offset = 0;
  for (const v of vars.values()) {
    const t = tf.tensor(view.subarray(offset, offset + v.size), v.shape, "float32");
    v.assign(t);
    t.dispose();
    offset += v.size;
  }
}

/** Control slots: [0] weight version, [r] last step worker r (1-based replica) finished. */
export const CTRL_SLOTS = 64;

export class ReplicaPool {
  private readonly pool = new WorkerPool();
  private readonly ctrl: Int32Array;
  private readonly weights: Float32Array;
  private readonly gradViews: Float32Array[] = [];
  private readonly mainGrads: Float32Array;
  private readonly trainableTotal: number;

  private constructor(
    private readonly task: TrainTask,
    private readonly replicas: number,
  ) {
    const all = layout(task.params.all());
    this.trainableTotal = layout(task.params.trainable()).total;
    this.ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
    this.weights = new Float32Array(new SharedArrayBuffer(all.total * 4));
    this.mainGrads = new Float32Array(this.trainableTotal);
  }

  /** Starts `replicas - 1` workers that rebuild the task from `definition` (not needed for one replica). */
  static async start(task: TrainTask, definition: TaskDefinition | null, replicas: number): Promise<ReplicaPool> {
    if (!Number.isInteger(replicas) || replicas < 1 || replicas >= CTRL_SLOTS)
      throw new Error(`workers must be an integer in 1..${CTRL_SLOTS - 1}, got ${replicas}`);
    if (replicas > 1 && !definition)
      throw new Error("data-parallel training needs a task definition the workers can rebuild the task from");
    const pool = new ReplicaPool(task, replicas);
    try {
      const ready: Promise<void>[] = [];
      for (let r = 1; r < replicas; r++) {
        const grads = new SharedArrayBuffer(pool.trainableTotal * 4);
        pool.gradViews.push(new Float32Array(grads));
        ready.push(
          pool.pool.spawn(r, new URL("./worker.ts", import.meta.url).href, {
            definition,
            ctrl: pool.ctrl,
            weights: pool.weights,
            grads,
            layout: { all: layout(task.params.all()), trainable: layout(task.params.trainable()) },
          }),
        );
      }
      await Promise.all(ready);
    } catch (err) {
      await pool.close();
      throw err;
    }
    await pool.publish();
    return pool;
  }

  get size(): number {
    return this.replicas;
  }

  /** Sends the main thread's weights (all variables, EMA state included) to the workers. */
  async publish(): Promise<void> {
    if (this.replicas === 1) return;
    copyToFlat(this.task.params.all(), this.weights);
    Atomics.add(this.ctrl, 0, 1);
  }

  /** Gradient of the whole batch's mean loss, computed shard by shard across the replicas. */
  async gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients> {
    const called = performance.now();
    // The main thread's own shard runs while the workers run theirs.
    const results = await this.pool.step(batch, ctx, this.ctrl, (shard, c) => shardGradients(this.task, shard, c, this.mainGrads));
    return pooledGradients(results, [this.mainGrads, ...this.gradViews], new Float32Array(this.trainableTotal), called);
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
