// Which code runs the transformer while image tokens are sampled. Training and the browser use TensorFlow.js; for
// serving, the same weights also run as ONNX graphs this project writes itself (lib/model/onnx/: the prompt's
// prefill and the one-token step with a KV cache) in ONNX Runtime, which spends far less per kernel than tfjs-wasm
// does at batch 1 (`npm run bench:onnx`). Both return the same codes for a seed but where a draw's uniform number
// falls within float rounding (~1e-6) of a boundary between two tokens, about 1 draw in 10⁴.
import { sampleImageCodeGroups, sampleImageCodesBatch } from "../model/sample";

export type Engine = "onnx" | "tfjs";
export type BatchSampler = typeof sampleImageCodesBatch;
export type GroupSampler = typeof sampleImageCodeGroups;

let onnx: Promise<boolean> | undefined;

/**
 * Whether ONNX Runtime loads here (the sampler imports it on first use too): where its native binary cannot load
 * (an unsupported platform) the server says so once and samples with tfjs instead of failing every request.
 */
function onnxLoads(): Promise<boolean> {
  onnx ??= import("../model/onnx/decoder-session").then(
    () => true,
    (err: unknown) => {
      console.warn(`[tessera] GENERATION_ENGINE=onnx is unavailable here (${(err as Error).message}); sampling with tfjs`);
      return false;
    },
  );
  return onnx;
}

/** The engine a sampler runs on: the one asked for, or tfjs where ONNX Runtime does not load. */
async function usable(engine: Engine): Promise<Engine> {
  return engine === "onnx" && (await onnxLoads()) ? "onnx" : "tfjs";
}

/** The batch sampler of an engine (one group: several prompts, shared settings). */
export async function batchSamplerFor(engine: Engine): Promise<BatchSampler> {
  const use = await usable(engine);
  return (model, texts, nullText, o) => sampleImageCodesBatch(model, texts, nullText, { ...o, engine: use });
}

/** The grouped sampler of an engine (one group per job, each with its own seed and settings). */
export async function groupSamplerFor(engine: Engine): Promise<GroupSampler> {
  const use = await usable(engine);
  return (model, groups, nullText, o) => sampleImageCodeGroups(model, groups, nullText, { ...o, engine: use });
}
