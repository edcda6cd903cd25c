// Where the native engine's training step goes (`npm run profile -- --engine ort [--model gpt|vq]`): ONNX Runtime's
// own profiler (enableProfiling: a JSON trace of every kernel run) over a few steps of a training graph — the
// transformer's or the image tokenizer's — summed by operator type and split into forward and backward (a node our
// autodiff added, lib/model/onnx/autodiff.ts, has an id past the forward's last), plus the step time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { exportTrainingGraph } from "../../lib/model/onnx/training-graph";
import { exportVqTrainingGraph } from "../../lib/model/onnx/vq-training-graph";
import { imageTokens, type TransformerConfig } from "../../lib/model/transformer-config";
import type { VQConfig } from "../../lib/model/vq-config";

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string };
}

interface InputMeta {
  name: string;
  shape: readonly number[];
}

/** The transformer's training step (text and codes cycled through their vocabularies, dropout masks 90 % kept). */
export async function profileOrtStep(c: TransformerConfig, batch: number, threads: number, steps = 5) {
  const forward = exportTrainingGraph(c, { batch, dropout: false, gradients: false }).nodes;
  const g = exportTrainingGraph(c, { batch, dropout: c.dropout > 0, gradients: true });
  const n = imageTokens(c);
  const r = await profileGraph(g.bytes, forward, threads, steps, (m, size) => {
    if (m.name === g.names.text)
      return new Tensor(
        "int32",
        Int32Array.from({ length: size }, (_, i) => (i * 7 + 3) % c.textVocab),
        m.shape,
      );
    if (m.name === g.names.codes)
      return new Tensor(
        "int32",
        Int32Array.from({ length: size }, (_, i) => (i * 13) % c.imageVocab),
        m.shape,
      );
    if (m.name.startsWith("drop."))
      return new Tensor(
        "uint8",
        Uint8Array.from({ length: size }, (_, i) => (i % 10 ? 1 : 0)),
        m.shape,
      );
    return undefined;
  });
  const positions = c.textLen + n - 1;
  return {
    config: { nLayer: c.nLayer, nEmbd: c.nEmbd, nHead: c.nHead, dropout: c.dropout },
    batch,
    positions,
    threads,
    graphNodes: g.nodes,
    forwardNodes: forward,
    tokensPerS: Math.round((batch * positions) / (r.stepMs / 1000)),
    ...r,
  };
}

/** The image tokenizer's training step (a VQ-VAE, dVAE or AE: exportVqTrainingGraph), on synthetic pixels. */
export async function profileOrtVqStep(c: VQConfig, batch: number, threads: number, steps = 5) {
  const forward = exportVqTrainingGraph(c, { batch, gradients: false }).nodes;
  const g = exportVqTrainingGraph(c, { batch, gradients: true });
  const r = await profileGraph(g.bytes, forward, threads, steps, (m, size) =>
    m.name === g.names.images
      ? new Tensor(
          "uint8",
          Uint8Array.from({ length: size }, (_, i) => (i * 37) % 256),
          m.shape,
        )
      : undefined,
  );
  return {
    config: {
      kind: c.kind,
      encoderWidths: c.encoderWidths,
      decoderWidths: c.decoderWidths,
      codebookSize: c.codebookSize,
      embedDim: c.embedDim,
    },
    batch,
    threads,
    graphNodes: g.nodes,
    forwardNodes: forward,
    imagesPerS: Math.round(batch / (r.stepMs / 1000)),
    ...r,
  };
}

/**
 * Runs `bytes` `steps` + 1 times (the first warms up) with profiling on and sums the trace by operator. `feed` gives
 * an input its tensor, or undefined for small float32 values (parameters, codebooks, noise).
 */
async function profileGraph(
  bytes: Uint8Array,
  forwardNodes: number,
  threads: number,
  steps: number,
  feed: (m: InputMeta, size: number) => Tensor | undefined,
) {
  const prefix = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "tessera-ort-profile-")), "trace");
  const s = await InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const feeds: Record<string, Tensor> = {};
  for (const meta of s.inputMetadata) {
    const m = { name: meta.name, shape: [...(meta as unknown as { shape: readonly number[] }).shape] };
    const size = m.shape.reduce((a, b) => a * b, 1);
    feeds[m.name] =
      feed(m, size) ??
      new Tensor(
        "float32",
        Float32Array.from({ length: size }, (_, i) => Math.sin(i) * 0.02),
        m.shape,
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
  fs.rmSync(dir, { recursive: true, force: true });
  const byOp = new Map<string, { forwardMs: number; backwardMs: number; calls: number }>();
  let kernelMs = 0;
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const op = e.args?.op_name ?? "?";
    // Our node names are "<Op>.<id>"; fused nodes keep the name of the node they absorbed.
    const id = Number(/\.(\d+)/.exec(e.name)?.[1] ?? 0);
    const row = byOp.get(op) ?? { forwardMs: 0, backwardMs: 0, calls: 0 };
    const ms = e.dur / 1000 / (steps + 1);
    if (id >= forwardNodes) row.backwardMs += ms;
    else row.forwardMs += ms;
    row.calls++;
    kernelMs += ms;
    byOp.set(op, row);
  }
  const rows = [...byOp].sort((a, b) => b[1].forwardMs + b[1].backwardMs - (a[1].forwardMs + a[1].backwardMs));
  const sum = (k: "forwardMs" | "backwardMs") => rows.reduce((a, [, r]) => a + r[k], 0);
  return {
    stepMs: Math.round(stepMs),
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
