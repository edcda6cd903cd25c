// Convolutional decoder: quantized features [B, h, w, D] → image [B, h·f, w·f, C]. Each stage doubles the
// resolution with a 1×1 convolution to 4× the channels followed by depth-to-space (sub-pixel convolution), then
// residual blocks; a final 3×3 convolution writes the pixels.
import * as tf from "@tensorflow/tfjs";
import { createUpStages, upStages, type UpStage } from "./conv-stages";
import { conv, createConv, type Conv } from "./layers";
import type { ParamStore } from "./params";
import type { VQConfig } from "./vq-config";

export interface Decoder {
  input: Conv;
  stages: UpStage[];
  out: Conv;
}

export function createDecoder(store: ParamStore, c: VQConfig): Decoder {
  const widths = c.decoderWidths;
  const deepest = widths[widths.length - 1];
  const input = createConv(store, "dec.in", 3, c.embedDim, deepest, 1, c.padding);
  // From the coarsest stage up: refine at this resolution, then upsample into the next stage's width.
  const stages = createUpStages(store, "dec", widths, c.resBlocks, c.padding, c.outputWidth);
  return { input, stages, out: createConv(store, "dec.out", 3, c.outputWidth, c.channels, 1, c.padding) };
}

/** Everything up to the last layer: [B, h, w, D] → activations [B, S, S, outputWidth] that the head turns into pixels. */
export function decodeFeatures(d: Decoder, zQ: tf.Tensor4D): tf.Tensor4D {
  return tf.relu(upStages(d.stages, conv(d.input, zQ))); // [B, S, S, outputWidth]
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
