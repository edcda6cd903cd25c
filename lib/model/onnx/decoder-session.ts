// ONNX Runtime (onnxruntime-node, CPU) running the exported prefill and decode step, and the per-generation KV
// cache they share. One pair of sessions per loaded Transformer, built on first use and rebuilt when its weights
// are re-assigned. The cache is plain Float32Arrays (the prefill's outputs, already padded to every position of
// one image) wrapped once in ort.Tensors: ORT reads a CPU input in place, so feeding the whole cache each step
// costs nothing, and after each step only this token's keys/values (B·C floats per layer) are written into it.
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { CodeStepper, DecodeEngine } from "../decode-engine";
import type { KVCache, Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { exportDecodeStep, type DecodeStepGraph } from "./export-decoder";
import { exportPrefill, positionalText, type PrefillGraph } from "./export-prefill";
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

/** Additive attention mask of an unfilled cache slot: exp(−1e9·scale − max) is exactly 0 in float32. */
const MASKED = -1e9;

export class OnnxDecoder implements DecodeEngine {
  private constructor(
    private readonly model: Transformer,
    readonly prefillSession: InferenceSession,
    readonly prefillGraph: PrefillGraph,
    readonly session: InferenceSession,
    readonly graph: DecodeStepGraph,
  ) {}

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
  async prefill(texts: number[][]): Promise<{ logits: Float32Array; state: DecodeState }> {
    const t = this.model.config.textLen;
    const ids = positionalText(this.model.config, Int32Array.from(texts.flat())); // [B, T]
    const n = this.prefillGraph.names;
    const out = await this.prefillSession.run({ [n.text]: new Tensor("int32", ids, [texts.length, t]) });
    const kT = n.kT.map((name) => out[name].data as Float32Array);
    const v = n.v.map((name) => out[name].data as Float32Array);
    return { logits: out[n.logits].data as Float32Array, state: new DecodeState(this, texts.length, kT, v, t, this.prefillGraph.capacity) };
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
    return new DecodeState(this, rows, kT, v, t, cap);
  }

  async release(): Promise<void> {
    await Promise.all([this.prefillSession.release(), this.session.release()]);
  }
}

export class DecodeState implements CodeStepper {
  private readonly mask: Float32Array; // [T_max]
  private readonly feeds: Record<string, Tensor> = {};
  private readonly nH: number;
  private readonly hd: number;

  constructor(
    private readonly decoder: OnnxDecoder,
    readonly rows: number,
    private readonly kT: Float32Array[], // [B, H, hd, T_max] per layer
    private readonly v: Float32Array[], // [B, H, T_max, hd] per layer
    /** Positions filled so far. */
    public t: number,
    readonly capacity: number,
  ) {
    const n = decoder.graph.names;
    this.nH = decoder.config.nHead;
    this.hd = decoder.config.nEmbd / this.nH;
    this.mask = new Float32Array(capacity).fill(MASKED).fill(0, 0, t);
    this.feeds[n.mask] = new Tensor("float32", this.mask, [capacity]);
    n.pastKT.forEach((name, l) => {
      this.feeds[name] = new Tensor("float32", kT[l], [rows, this.nH, this.hd, capacity]);
      this.feeds[n.pastV[l]] = new Tensor("float32", v[l], [rows, this.nH, capacity, this.hd]);
    });
  }

  /**
   * Feeds image codes [B] at grid position `index` (row-major) and returns the next token's logits [B·K]; this
   * token's keys and values go into slot t.
   */
  async step(codes: Int32Array, index: number): Promise<Float32Array> {
    if (codes.length !== this.rows) throw new Error(`step: ${codes.length} codes for ${this.rows} rows`);
    if (this.t >= this.capacity) throw new Error(`step: the cache holds ${this.capacity} positions, all filled`);
    const n = this.decoder.graph.names;
    const out = await this.decoder.session.run({
      ...this.feeds,
      [n.codes]: new Tensor("int32", codes, [this.rows]),
      [n.position]: new Tensor("int32", Int32Array.of(index), [1]),
    });
    const { hd, capacity: cap, t } = this;
    for (let l = 0; l < n.k.length; l++) {
      const k = out[n.k[l]].data as Float32Array; // [B, C] = [B·H, hd]
      const v = out[n.v[l]].data as Float32Array; // [B, C] = [B·H, hd]
      const kT = this.kT[l];
      for (let r = 0; r < this.rows * this.nH; r++) {
        for (let d = 0; d < hd; d++) kT[(r * hd + d) * cap + t] = k[r * hd + d];
        this.v[l].set(v.subarray(r * hd, (r + 1) * hd), (r * cap + t) * hd);
      }
    }
    this.mask[t] = 0;
    this.t = t + 1;
    return out[n.logits].data as Float32Array;
  }

  /** The cache is plain JS memory (and ORT tensors that only wrap it): the garbage collector frees it. */
  dispose(): void {}
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
