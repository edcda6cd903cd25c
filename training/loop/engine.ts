// What runs a task's step for the loop (./trainer.ts): an engine computes the gradient of a batch and holds the
// trainable parameters as one flat Float32Array (`theta`) that the loop's optimizer updates in place. Two engines:
// ONNX Runtime over the task's native graph (./native-engine.ts; both cores as intra-op threads) and tfjs replicas
// (./replicas.ts; one wasm instance per core). The loop knows nothing else of either.
import os from "node:os";
import type { ParamLayout } from "../optim/flat-adamw";
import { assignFromFlat, copyToFlat, ReplicaPool, type PooledGradients } from "./replicas";
import type { Batch, StepContext, TaskDefinition, TrainTask } from "./task";

export type EngineName = "ort" | "tfjs";

export interface Engine {
  readonly name: EngineName;
  /** Replicas (tfjs) or intra-op threads (ort), for the log and the manifest. */
  readonly parallelism: number;
  /** The trainable parameters, flat in layout order: the optimizer updates them in place. */
  readonly theta: Float32Array;
  gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients>;
  /** After the optimizer changed `theta`. */
  commit(): void;
  /** Before anything reads the task's ParamStore (validation, sheets, checkpoints, afterStep): brings it up to date. */
  sync(): void;
  /** After the task changed its ParamStore (afterStep): `theta` takes the new values. */
  reload(): void;
  /** At the end of each step: replicas take the new weights. */
  publish(): Promise<void>;
  close(): Promise<void>;
}

/** "auto" = ONNX Runtime where the task has a native graph, else tfjs. */
export function resolveEngine(requested: EngineName | "auto", task: TrainTask): EngineName {
  if (requested === "ort" && !task.native)
    throw new Error(`--engine ort: the ${task.kind} task has no native graph yet; use --engine tfjs`);
  return requested === "auto" ? (task.native ? "ort" : "tfjs") : requested;
}

/** Threads (ort) or replicas (tfjs) for --workers auto: one per core on CPU engines, one elsewhere (a GPU). */
export function resolveWorkers(workers: number | "auto", backend: string, engine: EngineName = "tfjs"): number {
  if (workers !== "auto") return workers;
  return engine === "ort" || backend === "wasm" ? Math.max(1, Math.min(engine === "ort" ? 64 : 8, os.availableParallelism())) : 1;
}

/** tfjs: data-parallel replicas on worker threads (./replicas.ts); the ParamStore follows `theta` after each step. */
export class TfjsEngine implements Engine {
  readonly name = "tfjs";
  readonly theta: Float32Array;

  private constructor(
    private readonly task: TrainTask,
    layout: ParamLayout,
    private readonly pool: ReplicaPool,
  ) {
    this.theta = new Float32Array(layout.total);
    copyToFlat(task.params.trainable(), this.theta);
  }

  static async start(task: TrainTask, layout: ParamLayout, definition: TaskDefinition | null, replicas: number): Promise<TfjsEngine> {
    return new TfjsEngine(task, layout, await ReplicaPool.start(task, definition, replicas));
  }

  get parallelism(): number {
    return this.pool.size;
  }

  gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients> {
    return this.pool.gradients(batch, ctx);
  }

  commit(): void {
    assignFromFlat(this.task.params.trainable(), this.theta);
  }

  sync(): void {}

  reload(): void {
    copyToFlat(this.task.params.trainable(), this.theta);
  }

  publish(): Promise<void> {
    return this.pool.publish();
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
