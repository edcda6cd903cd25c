// Which code runs the transformer while image tokens are sampled. Training and the browser use TensorFlow.js; for
// serving, the same weights also run as ONNX graphs this project writes itself (lib/model/onnx/: the prompt's
// prefill and the one-token step with a KV cache) in ONNX Runtime, which spends far less per kernel than tfjs-wasm
// does at batch 1 (`npm run bench:onnx`). Both return the same codes for a seed but where a draw's uniform number
// falls within float rounding (~1e-6) of a boundary between two tokens, about 1 draw in 10⁴.
import { sampleImageCodeGroups, sampleImageCodesBatch } from "../model/sample";

export type Engine = "onnx" | "tfjs";
export type BatchSampler = typeof sampleImageCodesBatch;
export type GroupSampler = typeof sampleImageCodeGroups;

type OnnxSamplers = typeof import("../model/onnx/sample");
let onnx: Promise<OnnxSamplers | null> | undefined;

/**
 * ONNX Runtime's samplers, loaded on first use; where its native binary cannot load (an unsupported platform) the
 * server says so once and samples with tfjs instead of failing every request.
 */
function onnxSamplers(): Promise<OnnxSamplers | null> {
  onnx ??= import("../model/onnx/sample").then(
    (m) => m,
    (err: unknown) => {
      console.warn(`[tessera] GENERATION_ENGINE=onnx is unavailable here (${(err as Error).message}); sampling with tfjs`);
      return null;
    },
  );
  return onnx;
}

/** The batch sampler of an engine (one group: several prompts, shared settings). */
export async function batchSamplerFor(engine: Engine): Promise<BatchSampler> {
  if (engine === "tfjs") return sampleImageCodesBatch;
  return (await onnxSamplers())?.sampleImageCodesBatchOnnx ?? sampleImageCodesBatch;
}

/** The grouped sampler of an engine (one group per job, each with its own seed and settings). */
export async function groupSamplerFor(engine: Engine): Promise<GroupSampler> {
  if (engine === "tfjs") return sampleImageCodeGroups;
  return (await onnxSamplers())?.sampleImageCodeGroupsOnnx ?? sampleImageCodeGroups;
}
