// The image tokenizer: encoder → quantizer → decoder. The same class trains (forward, afterStep) and serves
// (encode, decode), whichever quantizer is inside.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, type CheckpointManifest } from "./checkpoint";
import { createDecoder, decode, decodeFeatures, decodeHead, type Decoder } from "./decoder";
import type { Conv } from "./layers";
import { createEncoder, encode, type Encoder } from "./encoder";
import { GumbelQuantizer } from "./gumbel-quantizer";
import { ParamStore } from "./params";
import type { QuantizeOptions, Quantizer } from "./quantizer";
import { VectorQuantizer } from "./vector-quantizer";
import { ContinuousBottleneck } from "./continuous-bottleneck";
import { gridSize, validateVQConfig, vqConfigFromManifest, type VQConfig } from "./vq-config";

export interface VQForward {
  /** [B, S, S, C], unclipped */
  reconstruction: tf.Tensor4D;
  /** Total loss: reconstruction MSE + the quantizer's weighted term. */
  loss: tf.Scalar;
  losses: { reconstruction: tf.Scalar } & Record<string, tf.Scalar>;
  /** [B, h, w] int32 */
  codes: tf.Tensor3D;
  /** Encoder output (z_e or logits), for the quantizer's between-step update. */
  latents: tf.Tensor4D;
  /** The decoder's activations before its last layer (reconstruction = head(features)), for the VQ-GAN's λ. */
  features: tf.Tensor4D;
}

export class VQModel {
  readonly params: ParamStore;
  private readonly encoder: Encoder;
  private readonly decoder: Decoder;
  private readonly quantizer: Quantizer;

  constructor(
    readonly config: VQConfig,
    seed = 0,
  ) {
    validateVQConfig(config);
    this.params = new ParamStore(seed);
    this.quantizer =
      config.kind === "vqvae"
        ? new VectorQuantizer(this.params, config)
        : config.kind === "dvae"
          ? new GumbelQuantizer(this.params, config)
          : new ContinuousBottleneck(config);
    this.encoder = createEncoder(this.params, config, this.quantizer.inputDim);
    this.decoder = createDecoder(this.params, config);
  }

  /** Loads a checkpoint folder written by the trainer (float32 or float16 weights). */
  static load(dir: string): { model: VQModel; manifest: CheckpointManifest } {
    return restoreModel(dir, ["vqvae", "dvae", "ae"], (config) => new VQModel(vqConfigFromManifest(config)));
  }

  /** Whether the bottleneck is discrete (a tokenizer) rather than the continuous "ae" baseline. */
  get discrete(): boolean {
    return this.quantizer.kind !== "none";
  }

  get grid(): number {
    return gridSize(this.config);
  }

  /** Training/evaluation pass; every returned tensor belongs to the caller. */
  forward(images: tf.Tensor4D, options: QuantizeOptions): VQForward {
    return tf.tidy(() => {
      const latents = encode(this.encoder, images);
      const q = this.quantizer.quantize(latents, options);
      const features = decodeFeatures(this.decoder, q.zQ);
      const reconstruction = decodeHead(this.decoder.out, features);
      const recon = tf.mean(tf.square(tf.sub(reconstruction, images))) as tf.Scalar;
      return {
        reconstruction,
        loss: tf.add(recon, q.loss) as tf.Scalar,
        losses: { reconstruction: recon, ...q.logs },
        codes: q.codes,
        latents,
        features,
      };
    });
  }

  /** The decoder's last layer, and the head applied with other weights `w` (the same shape) for the VQ-GAN's λ. */
  get lastLayer(): { conv: Conv; head: (features: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D } {
    const out = this.decoder.out;
    return { conv: out, head: (features, w) => decodeHead({ ...out, w: w as tf.Variable }, features) };
  }

  /** Non-gradient updates after an optimizer step (the VQ-VAE's EMA codebook and dead-code restarts). */
  afterStep(result: Pick<VQForward, "latents" | "codes">): Promise<void> {
    return this.quantizer.update(result.latents, result.codes);
  }

  /** Images [B, S, S, C] in [0, 1] → codes [B, h, w] int32. */
  encode(images: tf.Tensor4D): tf.Tensor3D {
    if (!this.discrete) throw new Error('a continuous autoencoder (kind "ae") has no codes: use reconstruct()');
    return tf.tidy(() => this.quantizer.quantize(encode(this.encoder, images), { training: false }).codes);
  }

  /** Images → their reconstruction as served, clipped to [0, 1]: decode(encode(x)), or the continuous path of an "ae". */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    const { reconstruction, codes } = this.roundTrip(images);
    codes.dispose();
    return reconstruction;
  }

  /** One encoder pass for both: the reconstruction as served and the codes (all zeros for an "ae", see discrete). */
  roundTrip(images: tf.Tensor4D): { reconstruction: tf.Tensor4D; codes: tf.Tensor3D } {
    return tf.tidy(() => {
      const q = this.quantizer.quantize(encode(this.encoder, images), { training: false });
      return { reconstruction: tf.clipByValue(decode(this.decoder, q.zQ), 0, 1) as tf.Tensor4D, codes: q.codes };
    });
  }

  /** Codes [B, h, w] → images [B, S, S, C] clipped to [0, 1]. */
  decode(codes: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => tf.clipByValue(decode(this.decoder, this.quantizer.embed(codes)), 0, 1) as tf.Tensor4D);
  }

  /**
   * Code grids as plain arrays (h·w row-major each; −1 = not yet sampled, drawn as code 0) → images [B, S, S, C] in
   * [0, 1]. The one place a sampler's output becomes pixels (serving, evals, sheets).
   */
  decodeCodes(codes: readonly ArrayLike<number>[]): tf.Tensor4D {
    const g = this.grid;
    const flat = new Int32Array(codes.length * g * g);
    codes.forEach((c, i) => {
      if (c.length !== g * g) throw new Error(`a code grid has ${g * g} codes, got ${c.length}`);
      for (let k = 0; k < c.length; k++) flat[i * g * g + k] = c[k] < 0 ? 0 : c[k];
    });
    const grid = tf.tensor3d(flat, [codes.length, g, g], "int32"); // [B, h, w]
    try {
      return this.decode(grid);
    } finally {
      grid.dispose();
    }
  }

  dispose(): void {
    this.params.dispose();
  }
}
