// Patch discriminator of the VQ-GAN (Esser et al. 2021, after pix2pix's PatchGAN, Isola et al. 2017): a small
// conv net that gives one real/fake logit per image patch rather than per image, so it judges local texture and
// edges, the part of a picture that a pixel loss blurs. Downsampling is space-to-depth + stride-1 conv (the fast
// path on wasm, as in the tokenizer itself). Used only in training: exported tokenizers do not carry it.
import * as tf from "@tensorflow/tfjs";
import { conv, createConv, spaceToDepth, stopGradient, type Conv } from "./layers";
import type { ParamStore } from "./params";

/** Name prefix of every discriminator parameter (what an export leaves out). */
export const DISCRIMINATOR_PREFIX = "disc.";

export interface DiscriminatorConfig {
  channels: number;
  /** Width of each stage, highest resolution first; every stage after the first halves the resolution. */
  widths: number[];
}

export const DEFAULT_DISCRIMINATOR_CONFIG: Readonly<DiscriminatorConfig> = Object.freeze({ channels: 3, widths: [32, 64, 128] });

export interface Discriminator {
  stages: Conv[];
  out: Conv;
}

export interface Judgement {
  /** [B, S/2^(n−1), S/2^(n−1), 1]: one logit per patch (real > 0). */
  logits: tf.Tensor4D;
  /** Each stage's activations, for the feature-matching loss. */
  features: tf.Tensor4D[];
}

export function createDiscriminator(store: ParamStore, c: DiscriminatorConfig = DEFAULT_DISCRIMINATOR_CONFIG): Discriminator {
  let inCh = c.channels;
  const stages = c.widths.map((width, i) => {
    const conv3 = createConv(store, `${DISCRIMINATOR_PREFIX}${i}`, 3, i === 0 ? inCh : 4 * inCh, width);
    inCh = width;
    return conv3;
  });
  return { stages, out: createConv(store, `${DISCRIMINATOR_PREFIX}out`, 3, inCh, 1) };
}

/**
 * Judges images in [0, 1]. `frozen` reads the weights through a stop-gradient, so a loss on the result trains only
 * whatever made the images (the generator's view of the discriminator).
 */
export function discriminate(d: Discriminator, images: tf.Tensor4D, frozen = false): Judgement {
  const w = (c: Conv): Conv => (frozen ? { ...c, w: stopGradient(c.w) as tf.Variable, b: stopGradient(c.b) as tf.Variable } : c);
  let h = tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D; // [0,1] → [-1,1]
  const features: tf.Tensor4D[] = [];
  d.stages.forEach((c, i) => {
    h = tf.leakyRelu(conv(w(c), i === 0 ? h : spaceToDepth(h)), 0.2); // [B, S/2^i, S/2^i, width]
    features.push(h);
  });
  return { logits: conv(w(d.out), h), features };
}
