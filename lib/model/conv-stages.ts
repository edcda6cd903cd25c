// The resolution stages every conv model here is built from (the image tokenizers' encoder and decoder, the lab's
// VAE, AAE and DAE): down, a space-to-depth halving, a channel mix and residual blocks; up, residual blocks and
// a 1×1 conv to 4× the next width followed by depth-to-space (Shi et al. 2016). One builder for all of them, so a
// parameter is named `<prefix>.<stage>.mix`, `.res<j>` or `.up` in every checkpoint.
import * as tf from "@tensorflow/tfjs";
import { conv, createConv, createResBlock, depthToSpace, resBlock, spaceToDepth, type Conv, type Padding, type ResBlock } from "./layers";
import type { ParamStore } from "./params";

export interface DownStage {
  mix: Conv;
  blocks: ResBlock[];
}

export interface UpStage {
  blocks: ResBlock[];
  up: Conv;
}

/**
 * One down stage per width, highest resolution first. The first stage sees raw pixels (4·C channels after
 * space-to-depth): a 3×3 mix is cheap there and gives each position spatial context; deeper stages mix their 4×
 * wider input with a 1×1.
 */
export function createDownStages(
  store: ParamStore,
  prefix: string,
  channels: number,
  widths: readonly number[],
  resBlocks: number,
  padding: Padding,
): DownStage[] {
  let inCh = channels;
  return widths.map((width, i) => {
    const mix = createConv(store, `${prefix}.${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width, 1, padding);
    const blocks = Array.from({ length: resBlocks }, (_, j) => createResBlock(store, `${prefix}.${i}.res${j}`, width, padding));
    inCh = width;
    return { mix, blocks };
  });
}

/** [B, H, W, C] → [B, H/2^n, W/2^n, widths[n−1]] */
export function downStages(stages: readonly DownStage[], x: tf.Tensor4D): tf.Tensor4D {
  let h = x;
  for (const s of stages) {
    h = conv(s.mix, spaceToDepth(h)); // [B, H/2, W/2, width]
    for (const b of s.blocks) h = resBlock(b, h);
  }
  return h;
}

/**
 * The up stages mirroring `widths` (given highest resolution first), coarsest first: each refines at its own
 * resolution, then upsamples into the next finer stage's width, the finest into `outWidth`.
 */
export function createUpStages(
  store: ParamStore,
  prefix: string,
  widths: readonly number[],
  resBlocks: number,
  padding: Padding,
  outWidth: number,
): UpStage[] {
  return [...widths].reverse().map((width, r) => {
    const i = widths.length - 1 - r;
    const next = i === 0 ? outWidth : widths[i - 1];
    return {
      blocks: Array.from({ length: resBlocks }, (_, j) => createResBlock(store, `${prefix}.${i}.res${j}`, width, padding)),
      up: createConv(store, `${prefix}.${i}.up`, 1, width, 4 * next),
    };
  });
}

/** [B, h, w, widths[n−1]] → [B, h·2^n, w·2^n, outWidth] (before any activation). */
export function upStages(stages: readonly UpStage[], x: tf.Tensor4D): tf.Tensor4D {
  let h = x;
  for (const s of stages) {
    for (const b of s.blocks) h = resBlock(b, h);
    h = depthToSpace(conv(s.up, tf.relu(h))); // [B, 2H, 2W, next]
  }
  return h;
}
