// Convolutional encoder: image [B, S, S, C] → features [B, S/f, S/f, out]. Each stage halves the resolution with
// space-to-depth, mixes channels with a convolution, then refines with residual blocks.
import * as tf from "@tensorflow/tfjs";
import { createDownStages, downStages, type DownStage } from "./conv-stages";
import { conv, createConv, type Conv } from "./layers";
import type { ParamStore } from "./params";
import type { VQConfig } from "./vq-config";

export interface Encoder {
  stages: DownStage[];
  out: Conv;
}

/** `outDim` is D (VQ-VAE: continuous z_e) or K (dVAE: logits over the codebook). */
export function createEncoder(store: ParamStore, c: VQConfig, outDim: number): Encoder {
  const stages = createDownStages(store, "enc", c.channels, c.encoderWidths, c.resBlocks, c.padding);
  return { stages, out: createConv(store, "enc.out", 1, c.encoderWidths[c.encoderWidths.length - 1], outDim) };
}

export function encode(e: Encoder, x: tf.Tensor4D): tf.Tensor4D {
  const h = downStages(e.stages, tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D); // [0,1] → [-1,1], then [B, S/f, S/f, width]
  return conv(e.out, tf.relu(h));
}
