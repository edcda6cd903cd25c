// Where the native engine's training step goes (`npm run profile -- --engine ort`): ONNX Runtime's own profiler
// (enableProfiling: a JSON trace of every kernel run) over a few steps of the transformer's training graph, summed
// by operator type and split into forward and backward — a node our autodiff added (lib/model/onnx/autodiff.ts) has
// an id past the forward's last — plus the session's optimised node count and the step time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { exportTrainingGraph } from "../../lib/model/onnx/training-graph";
import { imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

export async function profileOrtStep(c: TransformerConfig, batch: number, threads: number, steps = 5) {
  const forward = exportTrainingGraph(c, { batch, dropout: false, gradients: false }).nodes;
  const g = exportTrainingGraph(c, { batch, dropout: c.dropout > 0, gradients: true });
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tessera-ort-profile-")), "trace");
  const s = await InferenceSession.create(g.bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const feeds: Record<string, Tensor> = {};
  const n = imageTokens(c);
  for (const m of s.inputMetadata) {
    const dims = [...(m as unknown as { shape: readonly number[] }).shape];
    const size = dims.reduce((a, b) => a * b, 1);
    if (m.name === g.names.text)
      feeds[m.name] = new Tensor(
        "int32",
        Int32Array.from({ length: size }, (_, i) => (i * 7 + 3) % c.textVocab),
        dims,
      );
    else if (m.name === g.names.codes)
      feeds[m.name] = new Tensor(
        "int32",
        Int32Array.from({ length: size }, (_, i) => (i * 13) % c.imageVocab),
        dims,
      );
    else if (m.name.startsWith("drop."))
      feeds[m.name] = new Tensor(
        "uint8",
        Uint8Array.from({ length: size }, (_, i) => (i % 10 ? 1 : 0)),
        dims,
      );
    else
      feeds[m.name] = new Tensor(
        "float32",
        Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 0.02),
        dims,
      );
  }
  await s.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await s.run(feeds);
  const stepMs = (performance.now() - t0) / steps;
  (s as unknown as { endProfiling(): void }).endProfiling();
  await s.release();
  // The trace is written as <prefix>_<timestamp>.json.
  const dir = path.dirname(prefix);
  const file = fs.readdirSync(dir).find((f) => f.startsWith("trace") && f.endsWith(".json"));
  if (!file) throw new Error(`ONNX Runtime wrote no profile under ${dir}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as TraceEvent[];
  fs.rmSync(path.dirname(prefix), { recursive: true, force: true });
  const byOp = new Map<string, { forwardMs: number; backwardMs: number; calls: number }>();
  let kernelMs = 0;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    // Our node names are "<Op>.<id>"; fused nodes keep the name of the node they absorbed.
    const id = Number(/\.(\d+)/.exec(e.name)?.[1] ?? 0);
    const row = byOp.get(op) ?? { forwardMs: 0, backwardMs: 0, calls: 0 };
    const ms = e.dur / 1000 / (steps + 1);
    if (id >= forward) row.backwardMs += ms;
    else row.forwardMs += ms;
    row.calls++;
    kernelMs += ms;
    byOp.set(op, row);
  }
  const rows = [...byOp].sort((a, b) => b[1].forwardMs + b[1].backwardMs - (a[1].forwardMs + a[1].backwardMs));
  const sum = (k: "forwardMs" | "backwardMs") => rows.reduce((a, [, r]) => a + r[k], 0);
  return {
    config: { nLayer: c.nLayer, nEmbd: c.nEmbd, nHead: c.nHead, dropout: c.dropout },
    batch,
    positions: c.textLen + n - 1,
    threads,
    graphNodes: g.nodes,
    forwardNodes: forward,
    stepMs: Math.round(stepMs),
    tokensPerS: Math.round((batch * (c.textLen + n - 1)) / (stepMs / 1000)),
    kernelMs: Math.round(kernelMs),
    forwardMs: Math.round(sum("forwardMs")),
    backwardMs: Math.round(sum("backwardMs")),
    byOp: Object.fromEntries(
      rows.slice(0, 20).map(([op, r]) => [
        op,
        {
          ms: Math.round(r.forwardMs + r.backwardMs),
          forwardMs: Math.round(r.forwardMs),
          backwardMs: Math.round(r.backwardMs),
          callsPerStep: Math.round(r.calls / (steps + 1)),
        },
      ]),
    ),
  };
}
