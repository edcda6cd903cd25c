// CLIP's image encoder, scaled to 32×32 emoji: a small residual conv net built from the image tokenizers' blocks
// (lib/model/layers.ts: space-to-depth halvings, stride-1 convs, pre-activation residual blocks — the kernels that
// are fast on wasm, with gradients from lib/tensor/gradients.ts), globally average-pooled and linearly projected
// into the shared embedding space. Radford et al. 2021 (§2.4) use a ResNet-50 or a ViT with an attention-pooling
// head; at 4×4 final resolution and a few minutes of CPU, mean pooling followed by a LayerNorm is the cheap
// equivalent (the ViT variant also puts a LayerNorm before its projection).
import * as tf from "@tensorflow/tfjs";
import { createLayerNorm, layerNorm, type LayerNorm } from "./attention";
import type { ClipConfig } from "./clip-config";
import { conv, createConv, createResBlock, resBlock, spaceToDepth, type Conv, type ResBlock } from "./layers";
import type { ParamStore } from "./params";

export interface ImageEncoder {
  stages: { mix: Conv; blocks: ResBlock[] }[];
  lnPost: LayerNorm;
  /** W_i of the paper's pseudo-code: features → shared space, no bias (the embedding is normalised anyway). */
  proj: tf.Variable; // [C_last, embedDim]
}

export function createImageEncoder(store: ParamStore, c: ClipConfig, prefix = "clip.image"): ImageEncoder {
  let inCh = c.channels;
  const stages = c.imageWidths.map((width, i) => {
    // The first stage sees raw pixels (4·C channels after space-to-depth): a 3×3 mix gives it spatial context;
    // deeper stages mix their 4× wider input with a 1×1 (as the image tokenizers' encoder does).
    const mix = createConv(store, `${prefix}.s${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width);
    const blocks = Array.from({ length: c.resBlocks }, (_, j) => createResBlock(store, `${prefix}.s${i}.res${j}`, width));
    inCh = width;
    return { mix, blocks };
  });
  const std = 1 / Math.sqrt(inCh);
  return {
    stages,
    lnPost: createLayerNorm(store, `${prefix}.ln_post`, inCh),
    proj: store.add(`${prefix}.proj.w`, tf.randomNormal([inCh, c.embedDim], 0, std, "float32", store.seed())),
  };
}

/** Images [B, S, S, C] in [0, 1] → unnormalised image features [B, embedDim]. */
export function imageFeatures(e: ImageEncoder, x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    let h = tf.sub(tf.mul(x, 2), 1) as tf.Tensor4D; // [0,1] → [-1,1]
    for (const s of e.stages) {
      h = conv(s.mix, spaceToDepth(h)); // [B, H/2, W/2, width]
      for (const b of s.blocks) h = resBlock(b, h);
    }
    const pooled = tf.mean(tf.relu(h), [1, 2]) as tf.Tensor2D; // [B, C_last]
    return tf.matMul(layerNorm(e.lnPost, pooled) as tf.Tensor2D, e.proj as tf.Tensor2D); // [B, embedDim]
  });
}
