// One ONNX Runtime replica of the native engine (./native-engine.ts): the task's training graph in a session of its
// own, for each shard size it meets. Parameters are graph inputs wrapping views of a flat `theta` (the optimizer's
// in-place update is the next step's input with no copy); gradients are written by ORT straight into a flat
// `grads` buffer (pre-allocated outputs). Either buffer may live in shared memory (a replica on a worker thread
// reads the main thread's parameters and writes gradients the main thread reads); onnxruntime-node refuses a
// tensor over a SharedArrayBuffer ("Invalid argument"), so then the shard works on a private copy: θ copied in
// before each run, the gradient copied out after it (a few ms a step against 100+ ms of compute).
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { ParamLayout } from "../optim/flat-adamw";
import type { Batch, NativeGraph, StepContext, TrainTask } from "./task";
import type { ShardResult, Wire } from "./worker-pool";

interface Compiled {
  graph: NativeGraph;
  session: InferenceSession;
  /** Pre-allocated gradient outputs: views of `grads`, by output name. */
  fetches: Record<string, Tensor>;
  /** Gradients of parameters the graph does not read (left at zero). */
  unused: string[];
}

/** An ORT output in the form a shard's gathered outputs travel and merge in: float32 or int32 only. */
export function toWire(t: Tensor): Wire {
  if (t.type !== "float32" && t.type !== "int32") throw new Error(`a gathered output must be float32 or int32, got ${t.type}`);
  return { data: t.data as Float32Array | Int32Array, shape: [...t.dims], dtype: t.type };
}

export class NativeShard {
  private readonly paramFeeds: Record<string, Tensor> = {};
  private readonly compiled = new Map<number, Compiled>();
  /** What the sessions read and write: `theta` and `gradsOut` themselves, or private copies of shared ones. */
  private readonly local: Float32Array;
  private readonly grads: Float32Array;

  constructor(
    private readonly task: TrainTask,
    private readonly layout: ParamLayout,
    private readonly theta: Float32Array,
    private readonly gradsOut: Float32Array,
    readonly threads: number,
  ) {
    if (!task.native) throw new Error(`the ${task.kind} task has no native graph`);
    const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;
    this.local = isShared(theta) ? new Float32Array(theta.length) : theta;
    this.grads = isShared(gradsOut) ? new Float32Array(gradsOut.length) : gradsOut;
    let offset = 0;
    layout.names.forEach((name, i) => {
      this.paramFeeds[name] = new Tensor("float32", this.local.subarray(offset, offset + layout.sizes[i]), layout.shapes[i]);
      offset += layout.sizes[i];
    });
  }

  /** The session for batches of `rows` rows, built on first use. */
  async compile(rows: number): Promise<Compiled> {
    const hit = this.compiled.get(rows);
    if (hit) return hit;
    const graph = this.task.native!.graph(rows);
    const unknown = graph.params.filter((p) => !this.layout.names.includes(p));
    if (unknown.length) throw new Error(`the native graph reads parameters the task does not train: ${unknown.join(", ")}`);
    const session = await InferenceSession.create(graph.bytes, {
      intraOpNumThreads: this.threads,
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

  /** d (this shard's mean loss) / d θ into `grads`, with the loss, the logs and the gathered outputs. */
  async run(batch: Batch, ctx: StepContext): Promise<ShardResult> {
    const started = performance.now();
    const { graph, session, fetches, unused } = await this.compile(batch.rows);
    if (this.local !== this.theta) this.local.set(this.theta);
    const feeds: Record<string, Tensor> = {};
    for (const p of graph.params) feeds[p] = this.paramFeeds[p];
    for (const [name, f] of Object.entries(this.task.native!.feeds(batch, ctx))) feeds[name] = new Tensor(f.type, f.data, f.dims);
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
    if (this.grads !== this.gradsOut) this.gradsOut.set(this.grads);
    const read = (name: string) => (out[name].data as Float32Array)[0];
    return {
      rows: batch.rows,
      loss: read(graph.loss),
      logs: Object.fromEntries(Object.entries(graph.logs).map(([k, v]) => [k, read(v)])),
      gather: Object.fromEntries(Object.entries(gather).map(([k, o]) => [k, toWire(out[o])])),
      ms: performance.now() - started,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.compiled.values()].map((c) => c.session.release()));
    this.compiled.clear();
  }
}
