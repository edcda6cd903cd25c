// The native engine: ONNX Runtime (onnxruntime-node, MLAS kernels) runs the task's whole training step — forward,
// loss and the backward pass our autodiff wrote (lib/model/onnx/autodiff.ts) — as one graph (./native-shard.ts).
// Two ways to spend the cores: one session with every core as an intra-op thread, or, for a task whose loss is a
// mean of per-row terms (NativeStep.splittable), data-parallel replicas as the tfjs engine has (./replicas.ts):
// one session of `threads` intra-op threads per worker thread, each on its shard of the batch, the main thread's
// shard included. MLAS's intra-op threads scale poorly on these small graphs: on this 2-core machine two 1-thread
// sessions run the VQ-VAE's training graph 1.4× and the 3 × 192 GPT's 1.2× as fast as one 2-thread session;
// through the whole loop that is +13 % and +4 % (training/README.md), and nothing for the 8 × 512.
// Parameters live in one flat `theta` (shared memory when there are replicas) that every worker reads (into a
// private copy: ORT takes no shared buffer); each worker's gradient lands in its own shared buffer; the main thread
// averages them by rows. Non-trainable state the task's feeds read (a VQ-VAE's EMA codebook, which afterStep
// changes) goes to the workers once a step. Outputs the task's afterStep gathers come back as tfjs tensors.
import * as tf from "@tensorflow/tfjs";
import { paramLayout, type ParamLayout } from "../optim/flat-adamw";
import type { Engine } from "./engine";
import { NativeShard } from "./native-shard";
import { assignFromFlat, copyToFlat, CTRL_SLOTS } from "./replicas";
import type { Batch, StepContext, TaskDefinition, TrainTask } from "./task";
import { pooledGradients, shardBounds, WorkerPool, type PooledGradients } from "./worker-pool";

/** How the native engine uses the cores: `replicas` sessions (main thread + replicas − 1 workers) of `threads` each. */
export interface NativeLayout {
  replicas: number;
  threads: number;
}

/** "auto" keeps each replica's shard at least this many rows: tiny shards waste a session's fixed costs. */
export const MIN_SHARD_ROWS = 16;

/**
 * From this many parameters "auto" keeps one session with every core as an intra-op thread: the GEMMs are then big
 * enough for MLAS's threads to pay, and one copy of the step beats two. Measured on a 2-core machine, quiet, real
 * loop on synthetic data, two interleaved rounds (runs/s47/tmp/large-ab.ts, stop 47), one-thread replicas against
 * one two-thread session: 3 × 192 (2.3 M) 20.8–21.0 k against 17.8–17.9 k tok/s; 4 × 256 (≈ 4.4 M) 10.1–10.3 k against
 * 10.4 k; 8 × 512 (≈ 28 M) 1,334–1,391 against 1,538–1,552; the VQ-VAE (`npm run bench`) 682 against 512 images/s.
 */
export const ONE_SESSION_PARAMS = 8_000_000;

/**
 * `workers` cores as replicas × threads for batches of `rows` of a model of `params` parameters: one session of
 * `workers` threads when the task cannot be split by rows; else `threads` per replica, or with "auto" — below
 * ONE_SESSION_PARAMS — as many one-thread replicas as there are cores while each shard keeps ≥ MIN_SHARD_ROWS rows,
 * the cores left over shared out as threads (2 cores, batch 32: 2 × 1, measured; 16 cores, batch 32: 2 × 8, not
 * measured), and from ONE_SESSION_PARAMS up one session of every core.
 */
export function nativeLayout(workers: number, threads: number | "auto", splittable: boolean, rows: number, params = 0): NativeLayout {
  if (!splittable) return { replicas: 1, threads: workers };
  if (threads === "auto" && params >= ONE_SESSION_PARAMS) return { replicas: 1, threads: workers };
  if (threads === "auto") {
    const replicas = Math.max(1, Math.min(workers, Math.floor(rows / MIN_SHARD_ROWS)));
    return { replicas, threads: Math.max(1, Math.floor(workers / replicas)) };
  }
  const t = Math.min(threads, workers);
  return { replicas: Math.max(1, Math.floor(workers / t)), threads: t };
}

/** The store's non-trainable variables (state such as EMA statistics), in store order. */
export function stateVars(params: TrainTask["params"]): Map<string, tf.Variable> {
  const trainable = params.trainable();
  return new Map([...params.all()].filter(([name]) => !trainable.has(name)));
}

const shared = (n: number) => new Float32Array(new SharedArrayBuffer(n * 4));

export class NativeEngine implements Engine {
  readonly name = "ort";
  readonly theta: Float32Array;
  /** The step's gradient: the main shard's buffer with one replica, the merged one with several. */
  private readonly grads: Float32Array;
  private readonly gradViews: Float32Array[];
  private readonly main: NativeShard;
  private readonly pool = new WorkerPool();
  /** [0]: state version; [r]: the last step replica r finished. */
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(CTRL_SLOTS * 4));
  private readonly state: Float32Array;

  private constructor(
    private readonly task: TrainTask,
    private readonly layout: ParamLayout,
    readonly shape: NativeLayout,
  ) {
    const many = shape.replicas > 1;
    this.theta = many ? shared(layout.total) : new Float32Array(layout.total);
    // The main replica's gradient stays private; each worker's is shared with the main thread.
    this.gradViews = Array.from({ length: shape.replicas }, (_, r) => (r > 0 ? shared(layout.total) : new Float32Array(layout.total)));
    this.grads = many ? new Float32Array(layout.total) : this.gradViews[0];
    this.state = shared(many ? paramLayout(stateVars(task.params)).total : 0);
    copyToFlat(task.params.trainable(), this.theta);
    this.main = new NativeShard(task, layout, this.theta, this.gradViews[0], shape.threads);
  }

  /** `shape` as a number: one session of that many threads. Replicas rebuild the task from `definition`. */
  static async start(
    task: TrainTask,
    layout: ParamLayout,
    shape: NativeLayout | number,
    rows: number,
    definition: TaskDefinition | null = null,
  ): Promise<NativeEngine> {
    if (typeof shape === "number") shape = { replicas: 1, threads: shape };
    if (!task.native) throw new Error(`the ${task.kind} task has no native graph`);
    if (shape.replicas > 1 && !task.native.splittable) throw new Error(`the ${task.kind} task's graph cannot be split over replicas`);
    if (shape.replicas > 1 && !definition)
      throw new Error("data-parallel training needs a task definition the workers can rebuild the task from");
    if (!Number.isInteger(shape.replicas) || shape.replicas < 1 || shape.replicas >= CTRL_SLOTS)
      throw new Error(`replicas must be an integer in 1..${CTRL_SLOTS - 1}, got ${shape.replicas}`);
    const engine = new NativeEngine(task, layout, shape);
    try {
      const bounds = shardBounds(rows, shape.replicas);
      await engine.main.compile(bounds[1]);
      await Promise.all(
        engine.gradViews.slice(1).map((g, i) =>
          engine.pool.spawn(i + 1, new URL("./native-worker.ts", import.meta.url).href, {
            definition,
            threads: shape.threads,
            theta: engine.theta,
            grads: g,
            state: engine.state,
            ctrl: engine.ctrl,
            layout: { trainable: layout, state: paramLayout(stateVars(task.params)) },
          }),
        ),
      );
    } catch (err) {
      await engine.close();
      throw err;
    }
    await engine.publish();
    return engine;
  }

  /** Cores in use: replicas × intra-op threads. */
  get parallelism(): number {
    return this.shape.replicas * this.shape.threads;
  }

  async gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients> {
    const called = performance.now();
    if (this.shape.replicas === 1) {
      const r = await this.main.run(batch, { ...ctx, replica: 0 });
      const ms = Math.round(r.ms);
      const gathered = Object.fromEntries(Object.entries(r.gather).map(([k, w]) => [k, tf.tensor(w.data, w.shape, w.dtype)]));
      return { grads: this.grads, loss: r.loss, logs: r.logs, gathered, timing: { shardsMs: [ms], totalMs: ms } };
    }
    // The main thread's own shard runs while the workers run theirs.
    const results = await this.pool.step(batch, ctx, this.ctrl, (shard, c) => this.main.run(shard, c));
    return pooledGradients(results, this.gradViews, this.grads, called);
  }

  commit(): void {}

  sync(): void {
    assignFromFlat(this.task.params.trainable(), this.theta);
  }

  reload(): void {
    copyToFlat(this.task.params.trainable(), this.theta);
  }

  /** The workers read `theta` in place; the state the task's feeds read from its store goes to them here. */
  async publish(): Promise<void> {
    if (this.shape.replicas === 1) return;
    copyToFlat(stateVars(this.task.params), this.state);
    Atomics.add(this.ctrl, 0, 1);
  }

  async close(): Promise<void> {
    await this.pool.close();
    await this.main.close();
  }
}
