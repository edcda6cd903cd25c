// Real-NVP (Dinh, Sohl-Dickstein & Bengio 2017): an invertible map f from images to a standard normal z with an
// exact log-likelihood by the change of variables, log p(y) = log N(f(y); 0, I) + log|det ∂f/∂y|. Tessera uses it
// to say how typical an image is of the training data (bits/dim), not to draw pictures.
//
// Units, end to end (§4.1 and Theis et al. 2016, "A note on the evaluation of generative models"):
//   x ∈ {0..255}^D   the stored pixels (D = H·W·C);
//   y = (x + u)/256  u ~ U[0, 1)^D: dequantised into [0, 1)^D, so a density on y is a bound on x's probabilities:
//                    log P(x) ≥ E_u[log p_y(y)] − D·log 256  (p_y is a density per unit of y; 256^D y-units per x-cube);
//   h = logit(α + (1 − 2α)·y)  the logit transform (α = 0.05), whose log-det Σ log((1 − 2α)/(p(1 − p))) is part of f's;
//   bits/dim = −(log p_y(y) − D·log 256) / (D·ln 2)  in bits per sub-pixel of the 8-bit image, the paper's unit.
// A uniform model of 8-bit pixels scores exactly 8 bits/dim.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, saveCheckpoint, type CheckpointManifest, type SaveOptions } from "./checkpoint";
import {
  CHANNEL_COUPLINGS,
  CHECKERBOARD_COUPLINGS,
  FINAL_CHECKERBOARD_COUPLINGS,
  flowDims,
  validateFlowConfig,
  type FlowConfig,
} from "./flow-config";
import { couplingForward, couplingInverse, createCoupling, type Coupling } from "./flow-coupling";
import { depthToSpace, spaceToDepth } from "./layers";
import { ParamStore } from "./params";

export const FLOW_KIND = "realnvp";

const LN2 = Math.log(2);
const LOG_256 = Math.log(256);
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** One scale of the multi-scale architecture (§3.6). */
interface Scale {
  /** Side and channels of the tensor the scale starts with. */
  side: number;
  channels: number;
  checkerboard: Coupling[];
  /** After the squeeze; empty on the last scale. */
  channelwise: Coupling[];
  last: boolean;
}

/**
 * How the dequantisation noise is drawn: "fresh" for every image of the batch (training), or "shared", one draw
 * [1, H, W, C] for all of them, so an image's score depends on its pixels alone, not on its place in a batch.
 */
export type Noise = "fresh" | "shared";

/** Dequantisation: integer pixels 0..255 [B, H, W, C] → y = (x + u)/256 in [0, 1), u ~ U[0, 1) drawn from `seed`. */
export function dequantise(pixels: tf.Tensor4D, seed: number, noise: Noise = "fresh"): tf.Tensor4D {
  return tf.tidy(() => {
    const x = tf.cast(pixels, "float32");
    const [b, h, w, c] = x.shape;
    const u = tf.randomUniform(noise === "shared" ? [1, h, w, c] : [b, h, w, c], 0, 1, "float32", seed);
    return tf.div(tf.add(x, u), 256) as tf.Tensor4D;
  });
}

/** Nats of a density on y (per image) → bits/dim of the 8-bit image (see the header for why D·log 256). */
export function bitsPerDimOfLogDensity(logDensity: tf.Tensor1D, dims: number): tf.Tensor1D {
  return tf.tidy(() => tf.div(tf.sub(dims * LOG_256, logDensity), dims * LN2) as tf.Tensor1D);
}

export class RealNVP {
  readonly params: ParamStore;
  private readonly scales: Scale[];

  constructor(
    readonly config: FlowConfig,
    seed = 0,
  ) {
    validateFlowConfig(config);
    this.params = new ParamStore(seed);
    this.scales = Array.from({ length: config.scales }, (_, i) => {
      const side = config.imageSize / 2 ** i;
      const channels = config.channels * 2 ** i; // every earlier scale factored out half of its 4C
      const last = i === config.scales - 1;
      const width = config.hidden[i];
      const name = (kind: string, j: number) => `flow.s${i}.${kind}${j}`;
      return {
        side,
        channels,
        last,
        // Alternating parities / halves, so every dimension is transformed by some coupling (§3.5).
        checkerboard: Array.from({ length: last ? FINAL_CHECKERBOARD_COUPLINGS : CHECKERBOARD_COUPLINGS }, (_, j) =>
          createCoupling(this.params, name("cb", j), "checkerboard", (j % 2) as 0 | 1, channels, width, config.resBlocks),
        ),
        channelwise: last
          ? []
          : Array.from({ length: CHANNEL_COUPLINGS }, (_, j) =>
              createCoupling(this.params, name("ch", j), "channel", (j % 2) as 0 | 1, 4 * channels, width, config.resBlocks),
            ),
      };
    });
  }

  static load(dir: string): { model: RealNVP; manifest: CheckpointManifest } {
    return restoreModel(dir, [FLOW_KIND], (config) => new RealNVP(config as unknown as FlowConfig));
  }

  /** Writes a checkpoint folder of kind "realnvp" (lib/model/checkpoint.ts). */
  save(dir: string, options: Omit<SaveOptions, "kind" | "config"> = {}): Promise<CheckpointManifest> {
    return saveCheckpoint(dir, this.params.all(), { ...options, kind: FLOW_KIND, config: this.config });
  }

  /** D = H·W·C. */
  get dims(): number {
    return flowDims(this.config);
  }

  private check(x: tf.Tensor4D, what: string): void {
    const [, h, w, c] = x.shape;
    const s = this.config.imageSize;
    if (h !== s || w !== s || c !== this.config.channels)
      throw new Error(`${what}: images are ${h}×${w}×${c}, the flow models ${s}×${s}×${this.config.channels}`);
  }

  /**
   * y [B, H, W, C] in [0, 1) → z [B, D] (the factored-out parts of each scale, then the last scale's output, each
   * flattened) and log|det ∂z/∂y| [B] in nats, the logit transform's included.
   */
  forward(y: tf.Tensor4D): { z: tf.Tensor2D; logDet: tf.Tensor1D } {
    this.check(y, "forward");
    return tf.tidy(() => {
      const a = this.config.alpha;
      const batch = y.shape[0];
      const p = tf.add(a, tf.mul(1 - 2 * a, y));
      let h = tf.sub(tf.log(p), tf.log1p(tf.neg(p))) as tf.Tensor4D; // [B, H, W, C]: logit(p)
      // ∂h/∂y = (1 − 2α) / (p (1 − p)) per dimension.
      let logDet = tf.sum(tf.sub(Math.log(1 - 2 * a), tf.add(tf.log(p), tf.log1p(tf.neg(p)))), [1, 2, 3]) as tf.Tensor1D;
      const zs: tf.Tensor2D[] = [];
      const apply = (c: Coupling) => {
        const r = couplingForward(c, h);
        h = r.y;
        logDet = tf.add(logDet, r.logDet);
      };
      for (const s of this.scales) {
        s.checkerboard.forEach(apply);
        if (s.last) break;
        h = spaceToDepth(h); // [B, side/2, side/2, 4C]: a permutation, log-det 0
        s.channelwise.forEach(apply);
        const [kept, out] = tf.split(h, 2, 3) as [tf.Tensor4D, tf.Tensor4D]; // each [B, side/2, side/2, 2C]
        zs.push(tf.reshape(out, [batch, -1])); // [B, (side/2)²·2C]: factored out to the prior (§3.6)
        h = kept;
      }
      zs.push(tf.reshape(h, [batch, -1])); // [B, side_L²·C_L]
      return { z: tf.concat(zs, 1) as tf.Tensor2D, logDet };
    });
  }

  /** z [B, D] → y [B, H, W, C], the exact inverse of forward. */
  inverse(z: tf.Tensor2D): tf.Tensor4D {
    if (z.shape[1] !== this.dims) throw new Error(`inverse: z has ${z.shape[1]} dimensions, the flow has ${this.dims}`);
    return tf.tidy(() => {
      const batch = z.shape[0];
      const factored = this.scales.filter((s) => !s.last).map((s) => (s.side / 2) ** 2 * 2 * s.channels);
      const parts = tf.split(z, [...factored, this.dims - factored.reduce((a, b) => a + b, 0)], 1);
      const last = this.scales[this.scales.length - 1];
      let h = tf.reshape(parts[parts.length - 1], [batch, last.side, last.side, last.channels]) as tf.Tensor4D; // [B, side_L, side_L, C_L]
      const undo = (c: Coupling) => (h = couplingInverse(c, h));
      for (let i = this.scales.length - 1; i >= 0; i--) {
        const s = this.scales[i];
        if (!s.last) {
          const half = s.side / 2;
          const out = tf.reshape(parts[i], [batch, half, half, 2 * s.channels]) as tf.Tensor4D; // [B, side/2, side/2, 2C]
          h = tf.concat([h, out], 3) as tf.Tensor4D; // [B, side/2, side/2, 4C]
          [...s.channelwise].reverse().forEach(undo);
          h = depthToSpace(h); // [B, side, side, C]
        }
        [...s.checkerboard].reverse().forEach(undo);
      }
      const a = this.config.alpha;
      return tf.div(tf.sub(tf.sigmoid(h), a), 1 - 2 * a) as tf.Tensor4D;
    });
  }

  /** log p(y) [B] in nats, a density per unit of y ∈ [0, 1)^D: standard normal prior + log-det. */
  logProb(y: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => {
      const { z, logDet } = this.forward(y);
      const prior = tf.sub(tf.mul(-0.5, tf.sum(tf.square(z), 1)), this.dims * HALF_LOG_2PI);
      return tf.add(prior, logDet) as tf.Tensor1D;
    });
  }

  /**
   * Bits/dim [B] of integer pixels 0..255 [B, H, W, C], one dequantisation draw from `seed`: the training loss
   * (fresh noise per image) and the typicality score (a fixed seed and shared noise make a stored score
   * reproducible from the stored PNG alone).
   */
  bitsPerDim(pixels: tf.Tensor4D, seed = 0, noise: Noise = "fresh"): tf.Tensor1D {
    this.check(pixels, "bitsPerDim");
    return tf.tidy(() => bitsPerDimOfLogDensity(this.logProb(dequantise(pixels, seed, noise)), this.dims));
  }

  /** n images [n, H, W, C] in [0, 1] (8-bit levels) from z ~ N(0, T²·I): to look at what the flow learned. */
  sample(n: number, seed: number, temperature = 1): tf.Tensor4D {
    return tf.tidy(() => {
      const y = this.inverse(tf.randomNormal([n, this.dims], 0, temperature, "float32", seed));
      return tf.div(tf.clipByValue(tf.floor(tf.mul(y, 256)), 0, 255), 255) as tf.Tensor4D;
    });
  }

  dispose(): void {
    this.params.dispose();
  }
}
