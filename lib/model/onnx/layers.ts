// The transformer's building blocks (../attention.ts) as ONNX nodes, shared by the prefill and decode-step
// exports: weights read by their ParamStore names, linears as Gemm on [N, in] activations, the model's LayerNorm
// (ε = 1e-5) and its sigmoid GELU.
import type { Transformer } from "../transformer";
import type { GraphBuilder } from "./graph";

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

export class TransformerNodes {
  readonly c: number;
  readonly nH: number;
  readonly hd: number;
  private readonly weights = new Map<string, string>();

  constructor(
    readonly g: GraphBuilder,
    readonly model: Transformer,
    readonly planted: PlantedBugs = {},
  ) {
    this.c = model.config.nEmbd;
    this.nH = model.config.nHead;
    this.hd = this.c / this.nH;
  }

  /** The parameter `name` as an initializer (once per graph). */
  w(name: string, dims: number[]): string {
    let v = this.weights.get(name);
    if (!v) this.weights.set(name, (v = this.g.weight(name, paramValues(this.model, name), dims)));
    return v;
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
  finishBlock(x: string, ctx: string, name: string): string {
    const c = this.c;
    const h = this.g.op("Add", [x, this.linear(ctx, `${name}.proj`, c, c)]);
    const mlp = this.linear(this.gelu(this.linear(this.layerNorm(h, `${name}.ln2`), `${name}.fc`, c, 4 * c)), `${name}.out`, 4 * c, c);
    return this.g.op("Add", [h, mlp]);
  }

  /** ln1 then the qkv Gemm, split: q, k, v [N, C] each. */
  qkv(x: string, name: string): string[] {
    const c = this.c;
    const h1 = this.planted.skipLn1 ? x : this.layerNorm(x, `${name}.ln1`);
    return this.g.opN("Split", [this.linear(h1, `${name}.qkv`, c, 3 * c), this.g.ints([c, c, c])], 3, { axis: { i: 1 } });
  }
}
