// ONNX Runtime (onnxruntime-node, CPU) running the exported prefill and decode step: one pair of sessions per
// loaded Transformer, built on first use and rebuilt when its weights are re-assigned. The per-generation KV cache
// and the step loop are ./decode-state.ts's, shared with the page's onnxruntime-web (lib/browser/).
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { DecodeEngine } from "../decode-engine";
import type { KVCache, Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { exportDecodeStep, type DecodeStepGraph } from "./export-decoder";
import { exportPrefill, type PrefillGraph } from "./export-prefill";
import { DecodeState, OnnxDecodeEngine } from "./decode-state";

export { DecodeState } from "./decode-state";
import type { PlantedBugs } from "./layers";

/**
 * One thread (on a 2-core machine a second ORT thread only fights the server or a training run, and 512³ matMuls
 * measured faster on one), nodes in order, every graph optimisation ORT has (fusions, constant folding).
 */
export const ORT_SESSION_OPTIONS: InferenceSession.SessionOptions = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
});

export class OnnxDecoder implements DecodeEngine {
  /** The runtime-agnostic engine over the same two sessions (./decode-state.ts), which a page runs too. */
  readonly engine: OnnxDecodeEngine;

  private constructor(
    private readonly model: Transformer,
    readonly prefillSession: InferenceSession,
    readonly prefillGraph: PrefillGraph,
    readonly session: InferenceSession,
    readonly graph: DecodeStepGraph,
  ) {
    this.engine = new OnnxDecodeEngine({ Tensor }, model.config, {
      prefill: prefillSession,
      step: session,
      prefillNames: prefillGraph.names,
      stepNames: graph.names,
      capacity: prefillGraph.capacity,
    });
  }

  get config() {
    return this.model.config;
  }

  static async create(model: Transformer, planted?: PlantedBugs): Promise<OnnxDecoder> {
    const prefill = exportPrefill(model, planted);
    const step = exportDecodeStep(model, planted);
    const [ps, ss] = await Promise.all([prefill, step].map((gr) => InferenceSession.create(gr.bytes, { ...ORT_SESSION_OPTIONS })));
    return new OnnxDecoder(model, ps, prefill, ss, step);
  }

  /**
   * Runs the prompts (tokenizer ids [B][T_text], <pad> included) once: the first image token's logits [B·K] and a
   * cache holding the prompt, with room for every image position after it.
   */
  prefill(texts: number[][]): Promise<{ logits: Float32Array; state: DecodeState }> {
    return this.engine.prefill(texts);
  }

  /**
   * The same from a tfjs prefill cache (kT [B, H, hd, T], v [B, H, T, hd] per layer), copied into fresh buffers:
   * lets tests check the step alone against Transformer.extend. The caller keeps ownership of `cache`.
   */
  async fromTfjsCache(cache: KVCache): Promise<DecodeState> {
    const [rows, nH, hd, t] = cache[0].kT.shape;
    const cap = t + imageTokens(this.model.config) - 1;
    const kT: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (const l of cache) {
      const [srcK, srcV] = [(await l.kT.data()) as Float32Array, (await l.v.data()) as Float32Array];
      const [dstK, dstV] = [new Float32Array(rows * nH * hd * cap), new Float32Array(rows * nH * cap * hd)];
      for (let r = 0; r < rows * nH * hd; r++) dstK.set(srcK.subarray(r * t, (r + 1) * t), r * cap);
      for (let bh = 0; bh < rows * nH; bh++) dstV.set(srcV.subarray(bh * t * hd, (bh + 1) * t * hd), bh * cap * hd);
      kT.push(dstK);
      v.push(dstV);
    }
    return new DecodeState(this.engine, rows, kT, v, t, cap);
  }

  async release(): Promise<void> {
    await this.engine.release();
  }
}

interface Cached {
  /** The parameters' storage ids when the session was built: re-assigning a variable (loading weights) changes them. */
  fingerprint: unknown[];
  decoder: Promise<OnnxDecoder>;
}

const sessions = new WeakMap<Transformer, Cached>();

function fingerprint(model: Transformer): unknown[] {
  return [...model.params.all().values()].map((v) => (v as unknown as { dataId: unknown }).dataId);
}

/**
 * The model's ONNX sessions, exported on first use (~0.1 s, once) and rebuilt if its weights changed since. Weakly
 * keyed: dropping the model drops them (their native memory goes at garbage collection, or at releaseOnnxDecoder).
 */
export function onnxDecoderFor(model: Transformer): Promise<OnnxDecoder> {
  const now = fingerprint(model);
  const hit = sessions.get(model);
  if (hit && hit.fingerprint.length === now.length && hit.fingerprint.every((id, i) => id === now[i])) return hit.decoder;
  const decoder = OnnxDecoder.create(model);
  // A failed export must not stick: the next call tries again (and reports the error again).
  decoder.catch(() => sessions.get(model)?.decoder === decoder && sessions.delete(model));
  sessions.set(model, { fingerprint: now, decoder });
  return decoder;
}

/**
 * Frees the model's native sessions now (e.g. when the server unloads the model) instead of at garbage collection.
 * Call it only when no generation with this model is in flight: a released session cannot run.
 */
export async function releaseOnnxDecoder(model: Transformer): Promise<void> {
  const hit = sessions.get(model);
  sessions.delete(model);
  if (hit) await (await hit.decoder.catch(() => null))?.release();
}
