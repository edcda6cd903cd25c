// ONNX Runtime (onnxruntime-node, CPU) running the exported decode step, and the per-generation KV cache it reads.
// One session per loaded Transformer, built on first use and rebuilt when its weights are re-assigned. The cache
// is plain Float32Arrays wrapped once in ort.Tensors: ORT reads a CPU input in place, so feeding the whole cache
// each step costs nothing, and after each step only this token's keys/values (B·C floats per layer) are written.
import { InferenceSession, Tensor } from "onnxruntime-node";
import type { KVCache, Transformer } from "../transformer";
import { imageTokens } from "../transformer-config";
import { exportDecodeStep, type DecodeStepGraph, type PlantedBugs } from "./export-decoder";

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

export class OnnxDecoder {
  private constructor(
    private readonly model: Transformer,
    readonly session: InferenceSession,
    readonly graph: DecodeStepGraph,
  ) {}

  static async create(model: Transformer, planted?: PlantedBugs): Promise<OnnxDecoder> {
    const graph = exportDecodeStep(model, planted);
    return new OnnxDecoder(model, await InferenceSession.create(graph.bytes, { ...ORT_SESSION_OPTIONS }), graph);
  }

  /**
   * A generation's cache, filled from a tfjs prefill cache (kT [B, H, hd, T], v [B, H, T, hd] per layer) with room
   * for every image position after it. The caller keeps ownership of `prefill`.
   */
  async start(prefill: KVCache): Promise<DecodeState> {
    const c = this.model.config;
    if (prefill.length !== c.nLayer) throw new Error(`prefill cache has ${prefill.length} layers, the model ${c.nLayer}`);
    const [rows, nH, hd, t] = prefill[0].kT.shape;
    const state = new DecodeState(this, rows, nH, hd, t + imageTokens(c) - 1);
    for (let l = 0; l < c.nLayer; l++) state.load(l, (await prefill[l].kT.data()) as Float32Array, (await prefill[l].v.data()) as Float32Array, t);
    return state;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export class DecodeState {
  /** Positions filled so far. */
  t = 0;
  private readonly kT: Float32Array[] = []; // [B, H, hd, T_max] per layer
  private readonly v: Float32Array[] = []; // [B, H, T_max, hd] per layer
  private readonly mask: Float32Array; // [T_max]
  private readonly feeds: Record<string, Tensor> = {};

  constructor(
    private readonly decoder: OnnxDecoder,
    readonly rows: number,
    private readonly nH: number,
    private readonly hd: number,
    readonly capacity: number,
  ) {
    const n = decoder.graph.names;
    this.mask = new Float32Array(capacity).fill(MASKED);
    this.feeds[n.mask] = new Tensor("float32", this.mask, [capacity]);
    n.pastKT.forEach((name, l) => {
      this.kT.push(new Float32Array(rows * nH * hd * capacity));
      this.v.push(new Float32Array(rows * nH * capacity * hd));
      this.feeds[name] = new Tensor("float32", this.kT[l], [rows, nH, hd, capacity]);
      this.feeds[n.pastV[l]] = new Tensor("float32", this.v[l], [rows, nH, capacity, hd]);
    });
  }

  /** Copies `t` positions of one layer's tfjs cache (kT [B, H, hd, t], v [B, H, t, hd]) into slots 0..t-1. */
  load(layer: number, kT: Float32Array, v: Float32Array, t: number): void {
    const { hd, capacity: cap } = this;
    for (let r = 0; r < this.rows * this.nH * hd; r++) this.kT[layer].set(kT.subarray(r * t, (r + 1) * t), r * cap);
    for (let bh = 0; bh < this.rows * this.nH; bh++) this.v[layer].set(v.subarray(bh * t * hd, (bh + 1) * t * hd), bh * cap * hd);
    this.mask.fill(0, 0, t);
    this.t = t;
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
      const k = out[n.k[l]].data as Float32Array; // [B, C] = [B, H, hd]
      const v = out[n.v[l]].data as Float32Array; // [B, C] = [B, H, hd]
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
 * The model's decoder session, exported on first use (tens of ms; a generation's 64 steps then take a few ms each
 * batch) and rebuilt if its weights changed since. Weakly keyed: dropping the model drops the session.
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

/** Frees the model's native session now (e.g. when the server swaps models) instead of at garbage collection. */
export async function releaseOnnxDecoder(model: Transformer): Promise<void> {
  const hit = sessions.get(model);
  sessions.delete(model);
  if (hit) await (await hit.decoder.catch(() => null))?.release();
}
