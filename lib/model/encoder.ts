// Convolutional encoder: image [B, S, S, C] → features [B, S/f, S/f, out]. Each stage halves the resolution with
// space-to-depth, mixes channels with a convolution, then refines with residual blocks.
import * as tf from "@tensorflow/tfjs";
import { conv, createConv, createResBlock, resBlock, spaceToDepth, type Conv, type ResBlock } from "./layers";
import type { ParamStore } from "./params";
import type { VQConfig } from "./vq-config";

export interface Encoder {
  stages: { mix: Conv; blocks: ResBlock[] }[];
  out: Conv;
}

/** `outDim` is D (VQ-VAE: continuous z_e) or K (dVAE: logits over the codebook). */
export function createEncoder(store: ParamStore, c: VQConfig, outDim: number): Encoder {
  let inCh = c.channels;
  const stages = c.encoderWidths.map((width, i) => {
    // The first stage sees raw pixels (4·C channels after space-to-depth): a 3×3 mix is cheap there and gives
    // each code spatial context; deeper stages mix their 4× wider input with a 1×1.
    const mix = createConv(store, `enc.${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width, 1, c.padding);
    const blocks = Array.from({ length: c.resBlocks }, (_, j) => createResBlock(store, `enc.${i}.res${j}`, width, c.padding));
    inCh = width;
    return { mix, blocks };
  });
  return { stages, out: createConv(store, "enc.out", 1, inCh, outDim) };
}

export function encode(e: Encoder, x: tf.Tensor4D): tf.Tensor4D {
  let h = tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D; // [0,1] → [-1,1]
  for (const s of e.stages) {
    h = conv(s.mix, spaceToDepth(h)); // [B, H/2, W/2, width]
    for (const b of s.blocks) h = resBlock(b, h);
  }
  return conv(e.out, tf.relu(h));
}
