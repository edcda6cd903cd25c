// The few building blocks the image tokenizers are made of. Every convolution is stride 1 and keeps the size, and
// resolution changes use space-to-depth / depth-to-space (Shi et al. 2016, "sub-pixel convolution"): on the wasm
// backend those are exactly the fast kernels, and their gradients stay fast with lib/tensor/gradients.ts.
//
// Padding: zero padding ('same') tells every conv where the border is, so a plain white background gets other
// features, hence other codes, along the edges and in each corner than in the middle: entropy the transformer must
// model without any picture in it. Edge padding (replicate the border pixel) keeps a constant image constant through
// every layer, so one background gets one code everywhere.
import * as tf from "@tensorflow/tfjs";
import type { ParamStore } from "./params";

/** "zero": tfjs 'same' padding; "edge": the border pixels repeated outwards. */
export type Padding = "zero" | "edge";

export interface Conv {
  w: tf.Variable; // [k, k, Ci, Co]
  b: tf.Variable; // [Co]
  padding: Padding;
}

/** He-normal initialised k×k conv (He et al. 2015); `gain` < 1 shrinks residual branches at the start. */
export function createConv(store: ParamStore, name: string, k: number, ci: number, co: number, gain = 1, padding: Padding = "zero"): Conv {
  const std = gain * Math.sqrt(2 / (k * k * ci));
  return {
    w: store.add(`${name}.w`, tf.randomNormal([k, k, ci, co], 0, std, "float32", store.seed())),
    b: store.add(`${name}.b`, tf.zeros([co])),
    padding,
  };
}

/** x padded by `p` pixels on each side with copies of its border (for p = 1, "symmetric" mirroring is exactly that). */
export function edgePad(x: tf.Tensor4D, p: number): tf.Tensor4D {
  return tf.mirrorPad(
    x,
    [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ],
    "symmetric",
  ); // [B, H+2p, W+2p, C]
}

export function conv(c: Conv, x: tf.Tensor4D): tf.Tensor4D {
  const k = c.w.shape[0];
  if (c.padding === "edge" && k > 1) {
    if (k !== 3) throw new Error(`edge padding is implemented for 1×1 and 3×3 convs, got ${k}×${k}`);
    return tf.add(tf.conv2d(edgePad(x, 1), c.w as tf.Tensor4D, 1, "valid"), c.b);
  }
  return tf.add(tf.conv2d(x, c.w as tf.Tensor4D, 1, "same"), c.b);
}

export interface Dense {
  w: tf.Variable; // [in, out]
  b: tf.Variable; // [out]
}

/** A fully connected layer, LeCun-normal initialised (std = gain/√in). */
export function createDense(store: ParamStore, name: string, inDim: number, outDim: number, gain = 1): Dense {
  return {
    w: store.add(`${name}.w`, tf.randomNormal([inDim, outDim], 0, gain * Math.sqrt(1 / inDim), "float32", store.seed())),
    b: store.add(`${name}.b`, tf.zeros([outDim])),
  };
}

/** x·W + b. [B, in] → [B, out] */
export function dense(l: Dense, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, l.w as tf.Tensor2D), l.b) as tf.Tensor2D;
}

export interface ResBlock {
  conv1: Conv;
  conv2: Conv;
}

/** Pre-activation residual block (He et al. 2016): x + conv1×1(relu(conv3×3(relu(x)))). */
export function createResBlock(store: ParamStore, name: string, ch: number, padding: Padding = "zero"): ResBlock {
  return {
    conv1: createConv(store, `${name}.conv1`, 3, ch, ch, 1, padding),
    conv2: createConv(store, `${name}.conv2`, 1, ch, ch, 0.1),
  };
}

export function resBlock(r: ResBlock, x: tf.Tensor4D): tf.Tensor4D {
  return tf.add(x, conv(r.conv2, tf.relu(conv(r.conv1, tf.relu(x)))));
}

/** [B, H, W, C] → [B, H/2, W/2, 4C]: each 2×2 patch becomes one pixel's channels. */
export function spaceToDepth(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const r = tf.reshape(x, [b, h / 2, 2, w / 2, 2, c]); // [B, H/2, 2, W/2, 2, C]
  const t = tf.transpose(r, [0, 1, 3, 2, 4, 5]); // [B, H/2, W/2, 2, 2, C]
  return tf.reshape(t, [b, h / 2, w / 2, 4 * c]); // [B, H/2, W/2, 4C]
}

/** [B, H, W, 4C] → [B, 2H, 2W, C], the inverse of spaceToDepth. */
export function depthToSpace(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c4] = x.shape;
  const c = c4 / 4;
  const r = tf.reshape(x, [b, h, w, 2, 2, c]); // [B, H, W, 2, 2, C]
  const t = tf.transpose(r, [0, 1, 3, 2, 4, 5]); // [B, H, 2, W, 2, C]
  return tf.reshape(t, [b, 2 * h, 2 * w, c]); // [B, 2H, 2W, C]
}

/** sg[x]: x forward, no gradient backward (tfjs has no stop_gradient op). */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(x: T) => T;

/**
 * Straight-through estimator (van den Oord et al. 2017; Bengio et al. 2013): forward `quantized`, backward the
 * gradient flows to `continuous` unchanged, i.e. continuous + sg[quantized − continuous].
 */
export const straightThrough = tf.customGrad(((continuous: tf.Tensor, quantized: tf.Tensor) => ({
  value: tf.clone(quantized),
  gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.zerosLike(dy)],
})) as unknown as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(continuous: T, quantized: T) => T;
