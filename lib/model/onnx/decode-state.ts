// The prefill and decode-step graphs (./export-prefill.ts, ./export-decoder.ts) run as a DecodeEngine by whichever
// ONNX Runtime the caller has: onnxruntime-node on the server (./decoder-session.ts), onnxruntime-web in a page
// (lib/browser/). Both are onnxruntime-common's API; the caller hands in its package's Tensor class, because each
// package bundles its own copy of that class. The cache is plain Float32Arrays (the prefill's outputs, already
// padded to every position of one image) wrapped once in Tensors: ORT reads a CPU input in place, so feeding the
// whole cache each step costs nothing, and after each step only this token's keys/values (B·C floats per layer)
// are written into it.
import type { InferenceSession, Tensor } from "onnxruntime-common";
import type { CodeStepper, DecodeEngine } from "../decode-engine";
import type { TransformerConfig } from "../transformer-config";
import type { DecodeStepGraph } from "./export-decoder";
import { positionalText, type PrefillGraph } from "./export-prefill";

/** What the engine needs of an ONNX Runtime package: its Tensor class. */
export interface OrtTensorClass {
  Tensor: typeof Tensor;
}

/** Two sessions and what to call their inputs and outputs (the exporters' names, sent to a page as JSON). */
export interface OnnxGraphs {
  prefill: InferenceSession;
  step: InferenceSession;
  prefillNames: PrefillGraph["names"];
  stepNames: DecodeStepGraph["names"];
  /** Positions the prefill's cache has room for (PrefillGraph.capacity). */
  capacity: number;
}

/** Additive attention mask of an unfilled cache slot: exp(−1e9·scale − max) is exactly 0 in float32. */
const MASKED = -1e9;

export class OnnxDecodeEngine implements DecodeEngine {
  constructor(
    readonly ort: OrtTensorClass,
    readonly config: TransformerConfig,
    readonly graphs: OnnxGraphs,
  ) {}

  /**
   * Runs the prompts (tokenizer ids [B][T_text], <pad> included) once: the first image token's logits [B·K] and a
   * cache holding the prompt, with room for every image position after it.
   */
  async prefill(texts: number[][]): Promise<{ logits: Float32Array; state: DecodeState }> {
    const t = this.config.textLen;
    const ids = positionalText(this.config, Int32Array.from(texts.flat())); // [B, T]
    const n = this.graphs.prefillNames;
    const out = await this.graphs.prefill.run({ [n.text]: new this.ort.Tensor("int32", ids, [texts.length, t]) });
    const kT = n.kT.map((name) => out[name].data as Float32Array);
    const v = n.v.map((name) => out[name].data as Float32Array);
    return { logits: out[n.logits].data as Float32Array, state: new DecodeState(this, texts.length, kT, v, t, this.graphs.capacity) };
  }

  async release(): Promise<void> {
    await Promise.all([this.graphs.prefill.release(), this.graphs.step.release()]);
  }
}

export class DecodeState implements CodeStepper {
  private readonly mask: Float32Array; // [T_max]
  private readonly feeds: Record<string, Tensor> = {};
  private readonly nH: number;
  private readonly hd: number;

  constructor(
    private readonly engine: OnnxDecodeEngine,
    readonly rows: number,
    private readonly kT: Float32Array[], // [B, H, hd, T_max] per layer
    private readonly v: Float32Array[], // [B, H, T_max, hd] per layer
    /** Positions filled so far. */
    public t: number,
    readonly capacity: number,
  ) {
    const n = engine.graphs.stepNames;
    const T = engine.ort.Tensor;
    this.nH = engine.config.nHead;
    this.hd = engine.config.nEmbd / this.nH;
    this.mask = new Float32Array(capacity).fill(MASKED).fill(0, 0, t);
    this.feeds[n.mask] = new T("float32", this.mask, [capacity]);
    n.pastKT.forEach((name, l) => {
      this.feeds[name] = new T("float32", kT[l], [rows, this.nH, this.hd, capacity]);
      this.feeds[n.pastV[l]] = new T("float32", v[l], [rows, this.nH, capacity, this.hd]);
    });
  }

  /**
   * Feeds image codes [B] at grid position `index` (row-major) and returns the next token's logits [B·K]; this
   * token's keys and values go into slot t.
   */
  async step(codes: Int32Array, index: number): Promise<Float32Array> {
    if (codes.length !== this.rows) throw new Error(`step: ${codes.length} codes for ${this.rows} rows`);
    if (this.t >= this.capacity) throw new Error(`step: the cache holds ${this.capacity} positions, all filled`);
    const n = this.engine.graphs.stepNames;
    const T = this.engine.ort.Tensor;
    const out = await this.engine.graphs.step.run({
      ...this.feeds,
      [n.codes]: new T("int32", codes, [this.rows]),
      [n.position]: new T("int32", Int32Array.of(index), [1]),
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
