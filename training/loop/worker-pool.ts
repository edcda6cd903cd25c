// The worker threads behind data-parallel training, whichever engine computes a shard (tfjs replicas in
// ./replicas.ts, ONNX Runtime sessions in ./native-engine.ts): spawning a worker on its own TypeScript loader,
// one step request at a time per worker, the first failure kept and reported on every later call, and the
// shards' results merged (row-weighted loss and logs, `gather` tensors concatenated in row order).
import { Worker } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { sliceBatch, type Batch, type StepContext } from "./task";

type Typed = Int32Array | Float32Array | Uint8Array;
export type Wire = { data: Typed; shape: number[]; dtype: tf.DataType };

export interface ShardResult {
  rows: number;
  /** Milliseconds this replica spent on its shard (forward, backward, reading the gradients out). */
  ms: number;
  loss: number;
  logs: Record<string, number>;
  gather: Record<string, Wire>;
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

interface Pending {
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

export class WorkerPool {
  readonly workers: Worker[] = [];
  private readonly pending = new Map<Worker, Pending>();
  private failure: Error | null = null;
  private closing = false;

  /** Starts a worker on `entry` (a module URL) with `data` as its workerData; resolves when it says "ready". */
  spawn(replica: number, entry: string, data: Record<string, unknown>): Promise<void> {
    const w = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
      workerData: { entry, replica, ...data },
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

  /** Throws the first failure of any worker, if there was one. */
  check(): void {
    if (this.failure) throw this.failure;
  }

  /** Sends one step message to worker `i`; resolves with its shard's result. */
  request(i: number, message: Record<string, unknown>): Promise<ShardResult> {
    const w = this.workers[i];
    return new Promise<ShardResult>((resolve, reject) => {
      this.pending.set(w, { resolve, reject });
      w.postMessage({ type: "step", ...message });
    });
  }

  /**
   * One data-parallel step over the main thread (replica 0) and the workers: worker i gets shard i + 1 of `batch`
   * (and the weights' `version`, ctrl[0]) while `mine` runs shard 0 here; resolves with every shard's result in row
   * order, once each worker's gradient writes are ordered before the caller's reads (an Atomics read of its slot
   * ctrl[i + 1], which it stores after writing).
   */
  async step(
    batch: Batch,
    ctx: Omit<StepContext, "replica">,
    ctrl: Int32Array,
    mine: (shard: Batch, ctx: StepContext) => Promise<ShardResult>,
  ): Promise<ShardResult[]> {
    this.check();
    const replicas = this.workers.length + 1;
    const bounds = shardBounds(batch.rows, replicas);
    const version = Atomics.load(ctrl, 0);
    const remote = this.workers.map((_, i) =>
      this.request(i, { batch: sliceBatch(batch, bounds[i + 1], bounds[i + 2]), ctx: { ...ctx, replica: i + 1 }, version }),
    );
    let own: ShardResult;
    try {
      own = await mine(sliceBatch(batch, bounds[0], bounds[1]), { ...ctx, replica: 0 });
    } catch (err) {
      await Promise.allSettled(remote);
      throw err;
    }
    const results = [own, ...(await Promise.all(remote))];
    for (let r = 1; r < replicas; r++) Atomics.load(ctrl, r);
    return results;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/** Row bounds of `replicas` shards of a batch: shard r is rows [b[r], b[r + 1]). */
export function shardBounds(rows: number, replicas: number): number[] {
  const bounds = Array.from({ length: replicas + 1 }, (_, r) => Math.floor((r * rows) / replicas));
  if (bounds.some((b, r) => r > 0 && b === bounds[r - 1])) throw new Error(`batch of ${rows} rows is too small for ${replicas} replicas`);
  return bounds;
}

/**
 * The whole batch's mean gradient (into `into`), loss and logs from its shards' (weighted by rows: exactly the
 * gradient of the batch's mean loss), the shards' `gather` tensors concatenated in row order (the caller disposes
 * them), and the timing of a call that began at `called` (performance.now()).
 */
export function pooledGradients(results: ShardResult[], views: Float32Array[], into: Float32Array, called: number): PooledGradients {
  const rows = results.reduce((a, r) => a + r.rows, 0);
  const logs: Record<string, number> = {};
  let loss = 0;
  into.fill(0);
  results.forEach((res, r) => {
    const w = res.rows / rows;
    const g = views[r];
    for (let i = 0; i < into.length; i++) into[i] += w * g[i];
    loss += w * res.loss;
    for (const [k, v] of Object.entries(res.logs)) logs[k] = (logs[k] ?? 0) + w * v;
  });
  const gathered: Record<string, tf.Tensor> = {};
  for (const name of Object.keys(results[0].gather)) {
    const parts = results.map((res) => res.gather[name]);
    const Ctor = parts[0].data.constructor as new (n: number) => Typed;
    const data = new Ctor(parts.reduce((a, p) => a + p.data.length, 0));
    let offset = 0;
    for (const p of parts) {
      data.set(p.data as never, offset);
      offset += p.data.length;
    }
    gathered[name] = tf.tensor(data, [parts.reduce((a, p) => a + p.shape[0], 0), ...parts[0].shape.slice(1)], parts[0].dtype);
  }
  return {
    grads: into,
    loss,
    logs,
    gathered,
    timing: { shardsMs: results.map((r) => Math.round(r.ms)), totalMs: Math.round(performance.now() - called) },
  };
}
