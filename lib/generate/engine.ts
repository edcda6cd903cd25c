// Which code runs the transformer while image tokens are sampled. Training and the browser use TensorFlow.js; for
// serving, the same weights also run as ONNX graphs this project writes itself (lib/model/onnx/: the prompt's
// prefill and the one-token step with a KV cache) in ONNX Runtime, which spends far less per kernel than tfjs-wasm
// does at batch 1 (`npm run bench:onnx`). Both return the same codes for a seed but where a draw's uniform number
// falls within float rounding (~1e-6) of a boundary between two tokens, about 1 draw in 10⁴.
import { sampleImageCodesBatch } from "../model/sample";

export type Engine = "onnx" | "tfjs";
export type BatchSampler = typeof sampleImageCodesBatch;

let onnx: Promise<BatchSampler | null> | undefined;

/**
 * The batch sampler of an engine. ONNX Runtime is loaded on first use; where its native binary cannot load (an
 * unsupported platform) the server says so once and samples with tfjs instead of failing every request.
 */
export async function batchSamplerFor(engine: Engine): Promise<BatchSampler> {
  if (engine === "tfjs") return sampleImageCodesBatch;
  onnx ??= import("../model/onnx/sample").then(
    (m) => m.sampleImageCodesBatchOnnx,
    (err: unknown) => {
      console.warn(`[tessera] GENERATION_ENGINE=onnx is unavailable here (${(err as Error).message}); sampling with tfjs`);
      return null;
    },
  );
  return (await onnx) ?? sampleImageCodesBatch;
}
