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
import { createDownStages, createUpStages, downStages, upStages, type DownStage, type UpStage } from "./conv-stages";
import { conv, createConv, type Conv } from "./layers";
import { ParamStore } from "./params";

export class DAE {
  readonly params: ParamStore;
  private readonly enc: DownStage[];
  private readonly dec: UpStage[];
  private readonly out: Conv;

  constructor(
    readonly config: DAEConfig,
    seed = 0,
  ) {
    validateDAEConfig(config);
    const c = config;
    const store = (this.params = new ParamStore(seed));
    this.enc = createDownStages(store, "dae.enc", c.channels, c.widths, c.resBlocks, c.padding);
    this.dec = createUpStages(store, "dae.dec", c.widths, c.resBlocks, c.padding, c.widths[0]);
    // A small last layer (gain 0.1) keeps the first corrections small. NOTE: not zero: the residual stream above it
    // is large, and the untrained DAE's error (0.040 MSE) was 4× the corruption's (0.011) at step 1 of the shipped run.
    this.out = createConv(store, "dae.out", 3, c.widths[0], c.channels, 0.1, c.padding);
  }

  /** Loads a checkpoint folder written by the trainer (float32 or float16 weights). */
  static load(dir: string): { model: DAE; manifest: CheckpointManifest } {
    return restoreModel(dir, ["dae"], (config) => new DAE(daeConfigFromManifest(config)));
  }

  /** f: images [B, S, S, C] in [0, 1] → the code [B, S/2^n, S/2^n, widths[n−1]]. */
  encode(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      return downStages(this.enc, tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D); // [0,1] → [-1,1] → the code
    });
  }

  /** The raw reconstruction x̃ + g(f(x̃)), unclipped (the training loss sees it whole). [B, S, S, C] → [B, S, S, C] */
  forward(corrupted: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const h = upStages(this.dec, this.encode(corrupted)); // [B, S, S, widths[0]]
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
