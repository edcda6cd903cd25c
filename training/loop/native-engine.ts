// The native engine: ONNX Runtime (onnxruntime-node, MLAS kernels) runs the task's whole training step — forward,
// loss and the backward pass our autodiff wrote (lib/model/onnx/autodiff.ts) — as one graph, with every core as an
// intra-op thread instead of one tfjs replica per core. Parameters are graph inputs wrapping views of `theta`, so
// the optimizer's in-place update is the next step's input with no copy; gradients are written by ORT straight
// into one flat buffer (pre-allocated outputs); outputs the task's afterStep gathers (a VQ-VAE's encoder outputs and
// codes) come back as tfjs tensors. One session per batch size, built once.
import * as tf from "@tensorflow/tfjs";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ParamLayout } from "../optim/flat-adamw";
import type { Engine } from "./engine";
import { assignFromFlat, copyToFlat, type PooledGradients } from "./replicas";
import type { Batch, NativeGraph, StepContext, TrainTask } from "./task";

interface Compiled {
  graph: NativeGraph;
  session: InferenceSession;
  /** Pre-allocated gradient outputs: views of `grads`, by output name. */
  fetches: Record<string, Tensor>;
  /** Gradients of parameters the graph does not read (left at zero). */
  unused: string[];
}

/** An ORT output as a tfjs tensor for the task's afterStep (which the loop disposes): float32 or int32 only. */
function toTf(t: Tensor): tf.Tensor {
  if (t.type !== "float32" && t.type !== "int32") throw new Error(`a gathered output must be float32 or int32, got ${t.type}`);
  return tf.tensor(t.data as Float32Array | Int32Array, [...t.dims], t.type);
}

export class NativeEngine implements Engine {
  readonly name = "ort";
  readonly theta: Float32Array;
  private readonly grads: Float32Array;
  private readonly paramFeeds: Record<string, Tensor> = {};
  private readonly compiled = new Map<number, Compiled>();

  private constructor(
    private readonly task: TrainTask,
    private readonly layout: ParamLayout,
    readonly parallelism: number,
  ) {
    this.theta = new Float32Array(layout.total);
    this.grads = new Float32Array(layout.total);
    copyToFlat(task.params.trainable(), this.theta);
    let offset = 0;
    layout.names.forEach((name, i) => {
      this.paramFeeds[name] = new Tensor("float32", this.theta.subarray(offset, offset + layout.sizes[i]), layout.shapes[i]);
      offset += layout.sizes[i];
    });
  }

  static async start(task: TrainTask, layout: ParamLayout, threads: number, rows: number): Promise<NativeEngine> {
    if (!task.native) throw new Error(`the ${task.kind} task has no native graph`);
    const engine = new NativeEngine(task, layout, threads);
    await engine.compile(rows);
    return engine;
  }

  private async compile(rows: number): Promise<Compiled> {
    const hit = this.compiled.get(rows);
    if (hit) return hit;
    const graph = this.task.native!.graph(rows);
    const unknown = graph.params.filter((p) => !this.layout.names.includes(p));
    if (unknown.length) throw new Error(`the native graph reads parameters the task does not train: ${unknown.join(", ")}`);
    const session = await InferenceSession.create(graph.bytes, {
      intraOpNumThreads: this.parallelism,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    const fetches: Record<string, Tensor> = {};
    let offset = 0;
    this.layout.names.forEach((name, i) => {
      const out = graph.grads[name];
      if (out) fetches[out] = new Tensor("float32", this.grads.subarray(offset, offset + this.layout.sizes[i]), this.layout.shapes[i]);
      offset += this.layout.sizes[i];
    });
    const c: Compiled = { graph, session, fetches, unused: this.layout.names.filter((n) => !graph.grads[n]) };
    this.compiled.set(rows, c);
    return c;
  }

  async gradients(batch: Batch, ctx: Omit<StepContext, "replica">): Promise<PooledGradients> {
    const started = performance.now();
    const { graph, session, fetches, unused } = await this.compile(batch.rows);
    const feeds: Record<string, Tensor> = {};
    for (const p of graph.params) feeds[p] = this.paramFeeds[p];
    for (const [name, f] of Object.entries(this.task.native!.feeds(batch, { ...ctx, replica: 0 })))
      feeds[name] = new Tensor(f.type, f.data, f.dims);
    const gather = graph.gather ?? {};
    const fresh = [graph.loss, ...Object.values(graph.logs), ...Object.values(gather)]; // outputs ORT allocates
    const out = await session.run(feeds, { ...fetches, ...Object.fromEntries(fresh.map((s) => [s, null])) });
    // ORT wrote each gradient into its view of `grads` (copied if a binding ever hands back its own buffer);
    // parameters the graph never reads get zeros.
    let offset = 0;
    this.layout.names.forEach((name, i) => {
      const o = graph.grads[name];
      if (unused.includes(name)) this.grads.fill(0, offset, offset + this.layout.sizes[i]);
      else if (out[o].data !== fetches[o].data) this.grads.set(out[o].data as Float32Array, offset);
      offset += this.layout.sizes[i];
    });
    const read = (name: string) => (out[name].data as Float32Array)[0];
    const ms = Math.round(performance.now() - started);
    return {
      grads: this.grads,
      loss: read(graph.loss),
      logs: Object.fromEntries(Object.entries(graph.logs).map(([k, v]) => [k, read(v)])),
      // The whole batch in one shard, so what the tfjs replicas concatenate is this run's output as it is.
      gathered: Object.fromEntries(Object.entries(gather).map(([k, o]) => [k, toTf(out[o])])),
      timing: { shardsMs: [ms], totalMs: ms },
    };
  }

  commit(): void {}

  sync(): void {
    assignFromFlat(this.task.params.trainable(), this.theta);
  }

  reload(): void {
    copyToFlat(this.task.params.trainable(), this.theta);
  }

  async publish(): Promise<void> {}

  async close(): Promise<void> {
    await Promise.all([...this.compiled.values()].map((c) => c.session.release()));
    this.compiled.clear();
  }
}
