// The transformer's loss on ONNX Runtime without gradients: the training graph's forward (./training-graph.ts) with
// per-row outputs, for validation and evals. Weights are inputs, read from the model's ParamStore at each call, so
// one session per (model, batch size) serves a whole training run as the weights move.
import os from "node:os";
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { positionalText } from "./export-prefill";
import { exportTrainingGraph, type TrainingGraph } from "./training-graph";

export interface RowLosses {
  /** Mean text and image nats of each row. */
  text: Float32Array;
  image: Float32Array;
}

interface Cached {
  rows: number;
  graph: TrainingGraph;
  session: Promise<InferenceSession>;
}

const sessions = new WeakMap<Transformer, Cached>();

function sessionFor(model: Transformer, rows: number): Cached {
  const hit = sessions.get(model);
  if (hit && hit.rows === rows) return hit;
  const graph = exportTrainingGraph(model.config, { batch: rows, dropout: false, gradients: false, perRow: true });
  const session = InferenceSession.create(graph.bytes, {
    intraOpNumThreads: os.availableParallelism(),
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const c: Cached = { rows, graph, session };
  sessions.set(model, c);
  void hit?.session.then((s) => s.release()).catch(() => {});
  return c;
}

/**
 * Per-row losses of `count` items (captions [count · T] as tokenizer ids, codes [count · h·w]) in batches of
 * `rows` (the last one padded by repeating its first row, whose losses are dropped), without dropout.
 */
export async function rowLosses(model: Transformer, text: Int32Array, codes: Int32Array, count: number, rows = 64): Promise<RowLosses> {
  const c = model.config;
  const n = imageTokens(c);
  const { graph, session } = sessionFor(model, rows);
  const s = await session;
  const feeds: Record<string, Tensor> = {};
  for (const p of graph.params) {
    const v = model.params.get(p);
    feeds[p] = new Tensor("float32", v.dataSync() as Float32Array, v.shape);
  }
  const out: RowLosses = { text: new Float32Array(count), image: new Float32Array(count) };
  const t = new Int32Array(rows * c.textLen);
  const k = new Int32Array(rows * n);
  for (let start = 0; start < count; start += rows) {
    const real = Math.min(rows, count - start);
    for (let r = 0; r < rows; r++) {
      const item = start + (r < real ? r : 0);
      t.set(text.subarray(item * c.textLen, (item + 1) * c.textLen), r * c.textLen);
      k.set(codes.subarray(item * n, (item + 1) * n), r * n);
    }
    feeds[graph.names.text] = new Tensor("int32", positionalText(c, t), [rows, c.textLen]);
    feeds[graph.names.codes] = new Tensor("int32", k, [rows, n]);
    const res = await s.run(feeds);
    out.text.set((res[graph.names.rowText!].data as Float32Array).subarray(0, real), start);
    out.image.set((res[graph.names.rowImage!].data as Float32Array).subarray(0, real), start);
  }
  return out;
}
