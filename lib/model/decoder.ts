// Convolutional decoder: quantized features [B, h, w, D] → image [B, h·f, w·f, C]. Each stage doubles the
// resolution with a 1×1 convolution to 4× the channels followed by depth-to-space (sub-pixel convolution), then
// residual blocks; a final 3×3 convolution writes the pixels.
import * as tf from "@tensorflow/tfjs";
import { conv, createConv, createResBlock, depthToSpace, resBlock, type Conv, type ResBlock } from "./layers";
import type { ParamStore } from "./params";
import type { VQConfig } from "./vq-config";

export interface Decoder {
  input: Conv;
  stages: { blocks: ResBlock[]; up: Conv }[];
  out: Conv;
}

export function createDecoder(store: ParamStore, c: VQConfig): Decoder {
  const widths = c.decoderWidths;
  const deepest = widths[widths.length - 1];
  const input = createConv(store, "dec.in", 3, c.embedDim, deepest, 1, c.padding);
  // From the coarsest stage up: refine at this resolution, then upsample into the next stage's width.
  const stages = [...widths].reverse().map((width, r) => {
    const i = widths.length - 1 - r;
    const next = i === 0 ? c.outputWidth : widths[i - 1];
    return {
      blocks: Array.from({ length: c.resBlocks }, (_, j) => createResBlock(store, `dec.${i}.res${j}`, width, c.padding)),
      up: createConv(store, `dec.${i}.up`, 1, width, 4 * next),
    };
  });
  return { input, stages, out: createConv(store, "dec.out", 3, c.outputWidth, c.channels, 1, c.padding) };
}

/** Everything up to the last layer: [B, h, w, D] → activations [B, S, S, outputWidth] that the head turns into pixels. */
export function decodeFeatures(d: Decoder, zQ: tf.Tensor4D): tf.Tensor4D {
  let h = conv(d.input, zQ);
  for (const s of d.stages) {
    for (const b of s.blocks) h = resBlock(b, h);
    h = depthToSpace(conv(s.up, tf.relu(h))); // [B, 2H, 2W, next]
  }
  return tf.relu(h);
}

/** The last layer (the VQ-GAN's adaptive weight is measured on it): features → images in roughly [0, 1]. */
export function decodeHead(out: Conv, features: tf.Tensor4D): tf.Tensor4D {
  const y = conv(out, features); // [-1, 1] scale, as the encoder's input
  return tf.div(tf.add(y, 1), 2) as tf.Tensor4D;
}

/** Returns images in roughly [0, 1] (unclipped: the loss sees the raw values; callers clip for display). */
export function decode(d: Decoder, zQ: tf.Tensor4D): tf.Tensor4D {
  return decodeHead(d.out, decodeFeatures(d, zQ));
}
