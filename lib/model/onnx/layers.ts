// The transformer's building blocks (../attention.ts) as ONNX nodes: the one definition of the block that the
// prefill (./export-prefill.ts), the decode step (./export-decoder.ts) and the training graph
// (./training-graph.ts) are all built from. Weights are read by their ParamStore names — as initializers holding
// the model's values (serving) or as graph inputs (training: one session serves every step's weights); linears are
// Gemm on [N, in] activations; the model's LayerNorm (ε = 1e-5) and its sigmoid GELU.
import type { Transformer } from "../transformer";
import { DataType, type GraphBuilder } from "./graph";

/** Deliberate deviations from the tfjs maths, for tests that prove the equality checks can tell (never set them in code). */
export interface PlantedBugs {
  /** Step: attend to unfilled cache slots; prefill: no causal mask. */
  noMask?: boolean;
  skipLn1?: boolean;
  scaleByHd?: boolean;
  tanhGelu?: boolean;
  /** Step: the embedding of the next grid position; prefill: of the next text position. */
  positionOffByOne?: boolean;
}

/** A copy of a parameter's values (float32), by its ParamStore name. */
export function paramValues(model: Transformer, name: string): Float32Array {
  return Float32Array.from(model.params.get(name).dataSync() as Float32Array);
}

/** Dropout masks of one block (Srivastava et al. 2014), graph inputs holding 0 or 1 per element (uint8). */
export interface BlockDropout {
  /** On the attention probabilities [B, H, L, L]. */
  att: string;
  /** On the attention's output projection and on the MLP's output, before each residual add: [B·L, C]. */
  attnOut: string;
  mlp: string;
}

/** How a graph gets the parameters: the model's values baked in, or graph inputs named as the ParamStore names them. */
export type WeightSource = { kind: "values"; model: Transformer } | { kind: "inputs" };

export class TransformerNodes {
  readonly c: number;
  readonly nH: number;
  readonly hd: number;
  private readonly weights = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    readonly config: Transformer["config"],
    readonly source: WeightSource,
    readonly planted: PlantedBugs = {},
  ) {
    this.c = config.nEmbd;
    this.nH = config.nHead;
    this.hd = this.c / this.nH;
  }

  /** The parameter `name` (once per graph): an initializer with the model's values, or a graph input. */
  w(name: string, dims: number[]): string {
    let v = this.weights.get(name);
    if (!v) {
      v = this.source.kind === "values" ? this.g.weight(name, paramValues(this.source.model, name), dims) : this.g.param(name, dims);
      this.weights.set(name, v);
    }
    return v;
  }

  /** The parameters this graph reads, in the order it first read them. */
  params(): string[] {
    return [...this.weights.keys()];
  }

  /** Inverted dropout with a given 0/1 mask: x ⊙ mask / (1 − p), as tf.dropout. */
  dropout(x: string, mask: string | undefined): string {
    if (!mask) return x;
    const keepScale = this.g.scalar(1 / (1 - this.config.dropout));
    return this.g.op("Mul", [x, this.g.op("Mul", [this.g.op("Cast", [mask], { to: { i: DataType.FLOAT } }), keepScale])]);
  }

  /** x [N, in] → [N, out]: one Gemm with the bias fused, as the tfjs decode path's _FusedMatMul. */
  linear(x: string, name: string, nIn: number, nOut: number): string {
    return this.g.op("Gemm", [x, this.w(`${name}.w`, [nIn, nOut]), this.w(`${name}.b`, [nOut])]);
  }

  /** LayerNormalization (opset 17; Ba et al. 2016) over the last axis, with the tfjs model's ε = 1e-5. */
  layerNorm(x: string, name: string): string {
    return this.g.op("LayerNormalization", [x, this.w(`${name}.g`, [this.c]), this.w(`${name}.b`, [this.c])], {
      axis: { i: -1 },
      epsilon: { f: 1e-5 },
    });
  }

  /** x·σ(1.702·x), the sigmoid GELU of ../attention.ts (Hendrycks & Gimpel 2016, §2). */
  gelu(x: string): string {
    const g = this.g;
    if (this.planted.tanhGelu) {
      const inner = g.op("Tanh", [g.op("Mul", [x, g.scalar(Math.sqrt(2 / Math.PI))])]);
      return g.op("Mul", [g.op("Mul", [x, g.scalar(0.5)]), g.op("Add", [g.scalar(1), inner])]);
    }
    return g.op("Mul", [x, g.op("Sigmoid", [g.op("Mul", [x, g.scalar(1.702)])])]);
  }

  /** 1/√hd (Vaswani et al. 2017, eq. 1), as a float32 constant like tfjs's scalar. */
  scale(): string {
    return this.g.scalar(this.planted.scaleByHd ? 1 / this.hd : 1 / Math.sqrt(this.hd));
  }

  /** The block's second half, x + attn → + MLP: h = x + proj(ctx); y = h + out(gelu(fc(ln2(h)))), all [N, C]. */
  finishBlock(x: string, ctx: string, name: string, drop?: BlockDropout): string {
    const c = this.c;
    const h = this.g.op("Add", [x, this.dropout(this.linear(ctx, `${name}.proj`, c, c), drop?.attnOut)]);
    const mlp = this.linear(this.gelu(this.linear(this.layerNorm(h, `${name}.ln2`), `${name}.fc`, c, 4 * c)), `${name}.out`, 4 * c, c);
    return this.g.op("Add", [h, this.dropout(mlp, drop?.mlp)]);
  }

  /**
   * One block over whole sequences of `len` positions (`block` in ../attention.ts): x [B·len, C] → y [B·len, C],
   * with this layer's keys [B, H, hd, len] and values [B, H, len, hd] for a cache. `mask` is the additive causal
   * mask [len, len] (none only as a planted bug).
   */
  sequenceBlock(x: string, name: string, len: number, mask: string | null, drop?: BlockDropout): { y: string; kT: string; v: string } {
    const { g, c, nH, hd } = this;
    // [B·L, C] → [B, L, H, hd] → the axes in `perm`.
    const heads = (y: string, perm: number[]) =>
      g.op("Transpose", [g.op("Reshape", [y, g.ints([-1, len, nH, hd])])], { perm: { ints: perm } });
    const [q, k, v] = this.qkv(x, name); // [B·L, C] each
    // As `block`, q is scaled before the scores (L·C multiplies instead of L·L·H).
    const q4 = heads(g.op("Mul", [q, this.scale()]), [0, 2, 1, 3]); // [B, H, L, hd]
    const kT = heads(k, [0, 2, 3, 1]); // [B, H, hd, L]: the cache's transposed keys
    const v4 = heads(v, [0, 2, 1, 3]); // [B, H, L, hd]
    let scores = g.op("MatMul", [q4, kT]); // [B, H, L(i), L(j)]
    if (mask) scores = g.op("Add", [scores, mask]); // position i sees positions 0..i
    const att = this.dropout(g.op("Softmax", [scores], { axis: { i: -1 } }), drop?.att); // [B, H, L, L]
    const ctx = g.op("MatMul", [att, v4]); // [B, H, L, hd]
    const merged = g.op("Reshape", [g.op("Transpose", [ctx], { perm: { ints: [0, 2, 1, 3] } }), g.ints([-1, c])]); // [B·L, C]
    return { y: this.finishBlock(x, merged, name, drop), kT, v: v4 };
  }

  /** ln1 then the qkv Gemm, split: q, k, v [N, C] each. */
  qkv(x: string, name: string): string[] {
    const c = this.c;
    const h1 = this.planted.skipLn1 ? x : this.layerNorm(x, `${name}.ln1`);
    return this.g.opN("Split", [this.linear(h1, `${name}.qkv`, c, 3 * c), this.g.ints([c, c, c])], 3, { axis: { i: 1 } });
  }
}
