// Data-parallel gradients over worker threads (the synchronous data parallelism of Krizhevsky 2014 / Goyal et al.
// 2017): the main thread is replica 0 and each worker thread owns its own tfjs-wasm instance and a copy of the
// model. A step splits the batch by rows, every replica computes the gradient of its shard's mean loss, and the
// main thread averages them weighted by rows, which is exactly the gradient of the whole batch's mean loss. The
// optimizer runs once, on the main thread, and the new weights go back to the workers.
//
// Gradients and weights travel through SharedArrayBuffers (one gradient region per worker, one weight region
// for all); the few scalars and the `gather` tensors go by message. Atomics on a small control array order the
// writes with the messages.
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { paramLayout } from "../optim/flat-adamw";
import { sliceBatch, type Batch, type StepContext, type TaskDefinition, type TrainTask } from "./task";

type Typed = Int32Array | Float32Array | Uint8Array;
type Wire = { data: Typed; shape: number[]; dtype: tf.DataType };

export interface ShardResult {
  rows: number;
  /** Milliseconds this replica spent on its shard (forward, backward, reading the gradients out). */
  ms: number;
  loss: number;
  logs: Record<string, number>;
  gather: Record<string, Wire>;
}

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
    for (const [k, t] of Object.entries(gather)) result.gather[k] = { data: (await t.data()) as Typed, shape: t.shape, dtype: t.dtype };
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

export interface PooledGradients {
  /** Row-weighted mean gradient of all replicas, flat in trainable order. */
  grads: Float32Array;
  loss: number;
  logs: Record<string, number>;
  /** The shards' `gather` tensors concatenated in row order (the caller disposes them). */
  gathered: Record<string, tf.Tensor>;
  /** Where the time went: each replica's shard (ms), and the whole call including waiting and averaging. */
  timing: { shardsMs: number[]; totalMs: number };
}

/** Control slots: [0] weight version, [r] last step worker r (1-based replica) finished. */
const CTRL_SLOTS = 64;

interface Pending {
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

export class ReplicaPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<Worker, Pending>();
  private readonly ctrl: Int32Array;
  private readonly weights: Float32Array;
  private readonly gradViews: Float32Array[] = [];
  private readonly mainGrads: Float32Array;
  private readonly trainableTotal: number;
  private failure: Error | null = null;
  private closing = false;

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
      for (let r = 1; r < replicas; r++) ready.push(pool.spawn(r, definition!));
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

  private spawn(replica: number, definition: TaskDefinition): Promise<void> {
    const grads = new SharedArrayBuffer(this.trainableTotal * 4);
    this.gradViews.push(new Float32Array(grads));
    const w = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
      workerData: {
        entry: new URL("./worker.ts", import.meta.url).href,
        definition,
        replica,
        ctrl: this.ctrl,
        weights: this.weights,
        grads,
        layout: { all: layout(this.task.params.all()), trainable: layout(this.task.params.trainable()) },
      },
      // The worker registers its own TypeScript loader; the parent's flags (tsx's, vitest's) do not carry over.
      execArgv: [],
    });
    this.workers.push(w);
    return new Promise<void>((resolve, reject) => {
      const fail = (err: Error) => {
        if (this.closing) return;
        this.failure ??= err;
        reject(err);
        const p = this.pending.get(w);
        this.pending.delete(w);
        p?.reject(err);
      };
      w.on("message", (m: { type: string; result?: ShardResult; message?: string }) => {
        if (m.type === "ready") resolve();
        else if (m.type === "done") {
          const p = this.pending.get(w);
          this.pending.delete(w);
          p?.resolve(m.result!);
        } else if (m.type === "error") fail(new Error(`training worker ${replica}: ${m.message}`));
      });
      w.on("error", (err) => fail(new Error(`training worker ${replica} crashed: ${err.message}`)));
      w.on("exit", (code) => {
        if (code !== 0) fail(new Error(`training worker ${replica} exited with code ${code}`));
      });
    });
  }

  /** Sends the main thread's weights (all variables, EMA state included) to the workers. */
  async publish(): Promise<void> {
    if (this.replicas === 1) return;
    copyToFlat(this.task.params.all(), this.weights);
    Atomics.add(this.ctrl, 0, 1);
  }

  /** Gradient of the whole batch's mean loss, computed shard by shard across the replicas. */
  async gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients> {
    if (this.failure) throw this.failure;
    const called = performance.now();
    const n = this.replicas;
    const bounds = Array.from({ length: n + 1 }, (_, r) => Math.floor((r * batch.rows) / n));
    if (bounds.some((b, r) => r > 0 && b === bounds[r - 1])) throw new Error(`batch of ${batch.rows} rows is too small for ${n} replicas`);
    const version = Atomics.load(this.ctrl, 0);
    const remote = this.workers.map((w, i) => {
      const shard = sliceBatch(batch, bounds[i + 1], bounds[i + 2]);
      return new Promise<ShardResult>((resolve, reject) => {
        this.pending.set(w, { resolve, reject });
        w.postMessage({ type: "step", batch: shard, ctx: { ...ctx, replica: i + 1 }, version });
      });
    });
    // The main thread's own shard runs while the workers run theirs.
    let mine: ShardResult;
    try {
      mine = await shardGradients(this.task, sliceBatch(batch, bounds[0], bounds[1]), { ...ctx, replica: 0 }, this.mainGrads);
    } catch (err) {
      await Promise.allSettled(remote);
      throw err;
    }
    const results = [mine, ...(await Promise.all(remote))];
    for (let r = 1; r < n; r++) Atomics.load(this.ctrl, r); // orders the workers' gradient writes before our reads
    const grads = new Float32Array(this.trainableTotal);
    const views = [this.mainGrads, ...this.gradViews];
    const logs: Record<string, number> = {};
    let loss = 0;
    results.forEach((res, r) => {
      const w = res.rows / batch.rows;
      const g = views[r];
      for (let i = 0; i < grads.length; i++) grads[i] += w * g[i];
      loss += w * res.loss;
      for (const [k, v] of Object.entries(res.logs)) logs[k] = (logs[k] ?? 0) + w * v;
    });
    const gathered: Record<string, tf.Tensor> = {};
    for (const name of Object.keys(mine.gather)) {
      const parts = results.map((res) => res.gather[name]);
      const rows = parts.reduce((a, p) => a + p.shape[0], 0);
      const Ctor = parts[0].data.constructor as new (n: number) => Typed;
      const data = new Ctor(parts.reduce((a, p) => a + p.data.length, 0));
      let offset = 0;
      for (const p of parts) {
        data.set(p.data as never, offset);
        offset += p.data.length;
      }
      gathered[name] = tf.tensor(data, [rows, ...parts[0].shape.slice(1)], parts[0].dtype);
    }
    return {
      grads,
      loss,
      logs,
      gathered,
      timing: { shardsMs: results.map((r) => Math.round(r.ms)), totalMs: Math.round(performance.now() - called) },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}
