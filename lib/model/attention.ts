// Pre-LayerNorm transformer block with causal multi-head self-attention and a GELU MLP (Radford et al. 2019),
// written so one function serves training (whole sequence) and generation (new positions against a KV cache).
import * as tf from "@tensorflow/tfjs";
import { channelBatchedMatMul } from "../tensor/batched-matmul";
import type { ParamStore } from "./params";

export interface Linear {
  w: tf.Variable; // [in, out]
  b: tf.Variable; // [out]
}

export function createLinear(store: ParamStore, name: string, nIn: number, nOut: number, std = 0.02): Linear {
  return {
    w: store.add(`${name}.w`, tf.randomNormal([nIn, nOut], 0, std, "float32", store.seed())),
    b: store.add(`${name}.b`, tf.zeros([nOut])),
  };
}

/**
 * x [..., in] → [..., out] through one plain 2-D matMul (the fast path on wasm). `fused` (inference only: its
 * gradient uses the slow transposed matMuls) adds the bias inside the matMul kernel, one op fewer per layer —
 * generation is bound by per-op overhead, not FLOPs.
 */
export function linear(l: { w: tf.Tensor; b: tf.Tensor }, x: tf.Tensor, fused = false): tf.Tensor {
  const shape = x.shape;
  const flat = (shape.length === 2 ? x : tf.reshape(x, [-1, shape[shape.length - 1] as number])) as tf.Tensor2D; // [N, in]
  const y = fused ? tf.fused.matMul({ a: flat, b: l.w as tf.Tensor2D, bias: l.b }) : tf.add(tf.matMul(flat, l.w as tf.Tensor2D), l.b);
  return shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), l.w.shape[1] as number]); // [..., out]
}

export interface LayerNorm {
  g: tf.Variable;
  b: tf.Variable;
}

export function createLayerNorm(store: ParamStore, name: string, n: number): LayerNorm {
  return { g: store.add(`${name}.g`, tf.ones([n])), b: store.add(`${name}.b`, tf.zeros([n])) };
}

/** LayerNorm (Ba et al. 2016) over the last axis, written out: fewer ops than tf.moments + divide. */
export function layerNorm(l: LayerNorm, x: tf.Tensor): tf.Tensor {
  const centred = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.square(centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5))), l.g), l.b);
}

/**
 * GELU, sigmoid approximation x·σ(1.702·x) (Hendrycks & Gimpel 2016, §2): three ops instead of the tanh form's
 * nine, which matters because token-by-token generation is bound by per-op overhead.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

export interface Block {
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc: Linear;
  out: Linear;
}

export function createBlock(store: ParamStore, name: string, nEmbd: number, nLayer: number): Block {
  // Residual projections scaled by 1/√(2·nLayer) at init (GPT-2), so the residual stream's variance stays put.
  const residualStd = 0.02 / Math.sqrt(2 * nLayer);
  return {
    ln1: createLayerNorm(store, `${name}.ln1`, nEmbd),
    qkv: createLinear(store, `${name}.qkv`, nEmbd, 3 * nEmbd),
    proj: createLinear(store, `${name}.proj`, nEmbd, nEmbd, residualStd),
    ln2: createLayerNorm(store, `${name}.ln2`, nEmbd),
    fc: createLinear(store, `${name}.fc`, nEmbd, 4 * nEmbd),
    out: createLinear(store, `${name}.out`, 4 * nEmbd, nEmbd, residualStd),
  };
}

/**
 * Keys and values of the positions seen so far, per layer. Keys are kept transposed, [B, H, hd, t], so a new
 * token's scores are one batched matMul with no per-step transpose of the whole cache.
 */
export interface LayerCache {
  kT: tf.Tensor4D; // [B, H, hd, t]
  v: tf.Tensor4D; // [B, H, t, hd]
}

export interface BlockOptions {
  nHead: number;
  /** Dropout rate while training (0 at inference). */
  dropout: number;
  seed: number;
  /** No gradients needed: use fused kernels. */
  inference?: boolean;
}

/** The columns [from, from + n) of a linear layer, as a layer of its own (a view for q, k or v of `qkv`). */
function columns(l: Linear, from: number, n: number): { w: tf.Tensor2D; b: tf.Tensor1D } {
  const rows = l.w.shape[0] as number;
  return { w: tf.slice(l.w as tf.Tensor2D, [0, from], [rows, n]), b: tf.slice(l.b as tf.Tensor1D, [from], [n]) };
}

/**
 * x [B, L, C] → [B, L, C] over a whole (causal) sequence, plus (with `withCache`) its keys/values as a cache for
 * generation.
 *
 * The heads are laid out for `channelBatchedMatMul` (batch n = b·H + h on the channel axis), which is what makes
 * attention fast on wasm: Q as [L, hd, N], K as [hd, N, L], V as [L, N, hd]. q, k and v come from column slices
 * of the one `qkv` weight (three 2-D matMuls), so the [B, L, 3C] activation is never split.
 */
export function block(b: Block, x: tf.Tensor3D, o: BlockOptions & { withCache?: boolean }): { y: tf.Tensor3D; cache: LayerCache | null } {
  const [batch, len, c] = x.shape;
  const hd = c / o.nHead;
  const n = batch * o.nHead;
  const fused = o.inference === true;
  const h1 = layerNorm(b.ln1, x);
  const proj = (i: number) => tf.reshape(linear(columns(b.qkv, i * c, c), h1, fused), [batch, len, o.nHead, hd]); // [B, L, H, hd]
  // Scaling q (L·C values) instead of the scores (L·L·H values): the same 1/√hd, fewer multiplies.
  const q = tf.reshape(tf.transpose(tf.mul(proj(0), 1 / Math.sqrt(hd)), [1, 3, 0, 2]), [len, hd, n]) as tf.Tensor3D; // [L, hd, N]
  const k4 = tf.transpose(proj(1), [3, 0, 2, 1]); // [hd, B, H, L]
  const v4 = tf.transpose(proj(2), [1, 0, 2, 3]); // [L, B, H, hd]
  const scores = channelBatchedMatMul(q, tf.reshape(k4, [hd, n, len]) as tf.Tensor3D); // [L(i), N, L(j)]
  // Causal mask: position i sees positions 0..i.
  const mask = tf.reshape(tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([len, len]), -1, 0)), -1e9), [len, 1, len]); // [L, 1, L]
  let att = tf.softmax(tf.add(scores, mask), -1); // [L(i), N, L(j)]
  if (o.dropout > 0) att = tf.dropout(att, o.dropout, undefined, o.seed);
  const ctx = channelBatchedMatMul(tf.transpose(att, [0, 2, 1]) as tf.Tensor3D, tf.reshape(v4, [len, n, hd]) as tf.Tensor3D); // [L, N, hd]
  const merged = tf.transpose(tf.reshape(ctx, [len, batch, c]), [1, 0, 2]) as tf.Tensor3D; // [B, L, C]
  let attnOut = linear(b.proj, merged, fused);
  if (o.dropout > 0) attnOut = tf.dropout(attnOut, o.dropout, undefined, o.seed + 1);
  const h = tf.add(x, attnOut);
  let mlp = linear(b.out, gelu(linear(b.fc, layerNorm(b.ln2, h), fused)), fused);
  if (o.dropout > 0) mlp = tf.dropout(mlp, o.dropout, undefined, o.seed + 2);
  const cache = o.withCache
    ? {
        kT: tf.transpose(k4, [1, 2, 0, 3]) as tf.Tensor4D, // [B, H, hd, L]
        v: tf.transpose(v4, [1, 2, 0, 3]) as tf.Tensor4D, // [B, H, L, hd]
      }
    : null;
  return { y: tf.add(h, mlp) as tf.Tensor3D, cache };
}

/**
 * Inference weights as [1, in, out] views, so a decode-step linear is a single `_FusedMatMul` kernel call: the
 * op-level API would add reshapes and a gradient wrapper around it, and token-by-token generation is bound by
 * per-op overhead, not FLOPs. A view is rebuilt when its variable was re-assigned (e.g. weights loaded).
 */
export class DecodeWeights {
  private readonly views = new Map<tf.Variable, { dataId: unknown; w3: tf.Tensor3D }>();

  constructor(linears: Linear[]) {
    for (const l of linears) this.view(l.w);
  }

  private view(w: tf.Variable): tf.Tensor3D {
    const dataId = (w as unknown as { dataId: unknown }).dataId;
    let v = this.views.get(w);
    if (!v || v.dataId !== dataId) {
      v?.w3.dispose();
      v = { dataId, w3: tf.keep(tf.reshape(w, [1, w.shape[0] as number, w.shape[1] as number])) as tf.Tensor3D };
      this.views.set(w, v);
    }
    return v.w3;
  }

  /** x [1, N, in] → [1, N, out] */
  linear(l: Linear, x: tf.Tensor3D): tf.Tensor3D {
    const attrs = { transposeA: false, transposeB: false, activation: "linear" };
    return tf
      .engine()
      .runKernel("_FusedMatMul", { a: x, b: this.view(l.w), bias: l.b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor3D;
  }

  dispose(): void {
    for (const v of this.views.values()) v.w3.dispose();
    this.views.clear();
  }
}

/**
 * One new position per row against the cache: x [1, B, C] → [1, B, C]. The same maths as `block`, without a mask
 * (the new position may see every earlier one) and with single-kernel linears.
 */
export function blockStep(
  b: Block,
  x: tf.Tensor3D,
  nHead: number,
  past: LayerCache,
  w: DecodeWeights,
): { y: tf.Tensor3D; cache: LayerCache } {
  const [, batch, c] = x.shape;
  const hd = c / nHead;
  const bh = batch * nHead;
  const qkv = w.linear(b.qkv, layerNorm(b.ln1, x) as tf.Tensor3D); // [1, B, 3C]
  const [q, k, v] = tf.split(qkv, 3, 2); // [1, B, C] each
  const kT = tf.concat([past.kT, tf.reshape(k, [batch, nHead, hd, 1])], 3) as tf.Tensor4D; // [B, H, hd, t]
  const vAll = tf.concat([past.v, tf.reshape(v, [batch, nHead, 1, hd])], 2) as tf.Tensor4D; // [B, H, t, hd]
  const t = kT.shape[3];
  const scores = tf.mul(tf.matMul(tf.reshape(q, [bh, 1, hd]), tf.reshape(kT, [bh, hd, t])), 1 / Math.sqrt(hd)); // [BH, 1, t]
  const ctx = tf.matMul(tf.softmax(scores, -1), tf.reshape(vAll, [bh, t, hd])); // [BH, 1, hd]
  // With one position, [B, H, 1, hd] is already laid out as [1, B, C].
  const h = tf.add(x, w.linear(b.proj, tf.reshape(ctx, [1, batch, c]) as tf.Tensor3D));
  const mlp = w.linear(b.out, gelu(w.linear(b.fc, layerNorm(b.ln2, h) as tf.Tensor3D)) as tf.Tensor3D);
  return { y: tf.add(h, mlp) as tf.Tensor3D, cache: { kT, v: vAll } };
}
