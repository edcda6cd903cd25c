// Pre-LayerNorm transformer block with causal multi-head self-attention and a GELU MLP (Radford et al. 2019),
// written so one function serves training (whole sequence) and generation (new positions against a KV cache).
import * as tf from "@tensorflow/tfjs";
import type { ParamStore } from "./params";

export interface Linear {
  w: tf.Variable; // [in, out]
  b: tf.Variable; // [out]
}

export function createLinear(store: ParamStore, name: string, nIn: number, nOut: number, std = 0.02): Linear {
  return { w: store.add(`${name}.w`, tf.randomNormal([nIn, nOut], 0, std, "float32", store.seed())), b: store.add(`${name}.b`, tf.zeros([nOut])) };
}

/** x [..., in] → [..., out] through one plain 2-D matMul (the fast path on wasm). */
export function linear(l: Linear, x: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const flat = tf.reshape(x, [-1, shape[shape.length - 1] as number]); // [N, in]
  const y = tf.add(tf.matMul(flat, l.w as tf.Tensor2D), l.b);
  return tf.reshape(y, [...shape.slice(0, -1), l.w.shape[1] as number]); // [..., out]
}

export interface LayerNorm {
  g: tf.Variable;
  b: tf.Variable;
}

export function createLayerNorm(store: ParamStore, name: string, n: number): LayerNorm {
  return { g: store.add(`${name}.g`, tf.ones([n])), b: store.add(`${name}.b`, tf.zeros([n])) };
}

export function layerNorm(l: LayerNorm, x: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), l.g), l.b);
}

/** GELU, tanh approximation (Hendrycks & Gimpel 2016); x·x·x because tf.pow is slow on wasm. */
export function gelu(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
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

/** Keys and values of the positions seen so far, per layer: [B, H, t, hd] each. */
export interface LayerCache {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
}

export interface BlockOptions {
  nHead: number;
  /** Dropout rate while training (0 at inference). */
  dropout: number;
  seed: number;
  /** Keys/values of earlier positions; the new positions attend to them and to each other causally. */
  past?: LayerCache;
}

/** x [B, L, C] → [B, L, C], plus this layer's keys/values for all positions (past included). */
export function block(b: Block, x: tf.Tensor3D, o: BlockOptions): { y: tf.Tensor3D; cache: LayerCache } {
  const [batch, len, c] = x.shape;
  const hd = c / o.nHead;
  const qkv = linear(b.qkv, layerNorm(b.ln1, x)); // [B, L, 3C]
  const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [batch, len, o.nHead, hd]), [0, 2, 1, 3]) as tf.Tensor4D; // [B, H, L, hd]
  const [q, kNew, vNew] = tf.split(qkv, 3, 2).map(heads);
  const k = o.past ? (tf.concat([o.past.k, kNew], 2) as tf.Tensor4D) : kNew; // [B, H, t, hd]
  const v = o.past ? (tf.concat([o.past.v, vNew], 2) as tf.Tensor4D) : vNew;
  const t = k.shape[2];
  const past = t - len;
  // Batched matMuls over [B·H] without transpose flags (explicit transposes are faster on wasm).
  const q3 = tf.reshape(q, [batch * o.nHead, len, hd]); // [BH, L, hd]
  const kT = tf.transpose(tf.reshape(k, [batch * o.nHead, t, hd]), [0, 2, 1]); // [BH, hd, t]
  const v3 = tf.reshape(v, [batch * o.nHead, t, hd]); // [BH, t, hd]
  const scores = tf.mul(tf.matMul(q3, kT), 1 / Math.sqrt(hd)); // [BH, L, t]
  // Query i (absolute position past + i) may see keys 0..past + i.
  const allowed = tf.linalg.bandPart(tf.ones([len, t]), -1, past); // [L, t]
  const masked = tf.add(scores, tf.mul(tf.sub(1, allowed), -1e9));
  let att = tf.softmax(masked, -1);
  if (o.dropout > 0) att = tf.dropout(att, o.dropout, undefined, o.seed);
  const ctx = tf.matMul(att, v3); // [BH, L, hd]
  const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [batch, o.nHead, len, hd]), [0, 2, 1, 3]), [batch, len, c]); // [B, L, C]
  let attnOut = linear(b.proj, merged);
  if (o.dropout > 0) attnOut = tf.dropout(attnOut, o.dropout, undefined, o.seed + 1);
  const h = tf.add(x, attnOut);
  let mlp = linear(b.out, gelu(linear(b.fc, layerNorm(b.ln2, h))));
  if (o.dropout > 0) mlp = tf.dropout(mlp, o.dropout, undefined, o.seed + 2);
  return { y: tf.add(h, mlp) as tf.Tensor3D, cache: { k, v } };
}
