// The lab's denoising autoencoder (Vincent et al. 2008, "Extracting and composing robust features with denoising
// autoencoders"): an encoder maps a corrupted image x̃ ~ q(x̃|x) (./dae-corruption.ts) to a spatial code, a decoder
// maps the code back, and training minimises ‖g(f(x̃)) − x‖² against the clean x. Used by `npm run retrain --
// --denoise` to clean up an admin's noisy uploads before the tokenizer and the transformer see them.
//
// The decoder writes a correction that is added to x̃ (residual learning, as in DnCNN, Zhang et al. 2017) rather
// than the whole picture: a clean upload then passes through nearly untouched and a noisy one loses only its noise,
// where a plain decoder would redraw, and blur, every image.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, type CheckpointManifest } from "./checkpoint";
import { daeConfigFromManifest, validateDAEConfig, type DAEConfig } from "./dae-config";
import { conv, createConv, createResBlock, depthToSpace, resBlock, spaceToDepth, type Conv, type ResBlock } from "./layers";
import { ParamStore } from "./params";

export class DAE {
  readonly params: ParamStore;
  private readonly enc: { mix: Conv; blocks: ResBlock[] }[];
  private readonly dec: { blocks: ResBlock[]; up: Conv }[];
  private readonly out: Conv;

  constructor(
    readonly config: DAEConfig,
    seed = 0,
  ) {
    validateDAEConfig(config);
    const c = config;
    const store = (this.params = new ParamStore(seed));
    let inCh = c.channels;
    this.enc = c.widths.map((width, i) => {
      const mix = createConv(store, `dae.enc.${i}.mix`, i === 0 ? 3 : 1, 4 * inCh, width, 1, c.padding);
      const blocks = Array.from({ length: c.resBlocks }, (_, j) => createResBlock(store, `dae.enc.${i}.res${j}`, width, c.padding));
      inCh = width;
      return { mix, blocks };
    });
    this.dec = [...c.widths].reverse().map((width, r) => {
      const i = c.widths.length - 1 - r;
      const next = i === 0 ? c.widths[0] : c.widths[i - 1];
      return {
        blocks: Array.from({ length: c.resBlocks }, (_, j) => createResBlock(store, `dae.dec.${i}.res${j}`, width, c.padding)),
        up: createConv(store, `dae.dec.${i}.up`, 1, width, 4 * next),
      };
    });
    // A small last layer: at the start the correction is ≈ 0 and the DAE is the identity.
    this.out = createConv(store, "dae.out", 3, c.widths[0], c.channels, 0.1, c.padding);
  }

  /** Loads a checkpoint folder written by the trainer (float32 or float16 weights). */
  static load(dir: string): { model: DAE; manifest: CheckpointManifest } {
    return restoreModel(dir, ["dae"], (config) => new DAE(daeConfigFromManifest(config)));
  }

  /** f: images [B, S, S, C] in [0, 1] → the code [B, S/2^n, S/2^n, widths[n−1]]. */
  encode(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D; // [0,1] → [-1,1]
      for (const s of this.enc) {
        h = conv(s.mix, spaceToDepth(h)); // [B, H/2, W/2, width]
        for (const b of s.blocks) h = resBlock(b, h);
      }
      return h;
    });
  }

  /** The raw reconstruction x̃ + g(f(x̃)), unclipped (the training loss sees it whole). [B, S, S, C] → [B, S, S, C] */
  forward(corrupted: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      let h = this.encode(corrupted);
      for (const st of this.dec) {
        for (const b of st.blocks) h = resBlock(b, h);
        h = depthToSpace(conv(st.up, tf.relu(h))); // [B, 2H, 2W, next]
      }
      const correction = conv(this.out, tf.relu(h)); // [B, S, S, C]
      return tf.add(corrupted, correction) as tf.Tensor4D;
    });
  }

  /** The cleaned images, in [0, 1]. [B, S, S, C] → [B, S, S, C] */
  denoise(images: tf.Tensor4D): tf.Tensor4D {
    const s = this.config.imageSize;
    if (images.shape[1] !== s || images.shape[2] !== s || images.shape[3] !== this.config.channels)
      throw new Error(`denoise: this DAE takes [B, ${s}, ${s}, ${this.config.channels}] images, got [${images.shape}]`);
    return tf.tidy(() => tf.clipByValue(this.forward(images), 0, 1) as tf.Tensor4D);
  }

  /** Mean squared error of the reconstruction against the clean images, per image. → [B] */
  loss(corrupted: tf.Tensor4D, clean: tf.Tensor4D): tf.Tensor1D {
    return tf.tidy(() => tf.mean(tf.square(tf.sub(this.forward(corrupted), clean)), [1, 2, 3]) as tf.Tensor1D);
  }

  dispose(): void {
    this.params.dispose();
  }
}
