// The lab's VAE (Kingma & Welling 2014, "Auto-Encoding Variational Bayes"): a conv encoder q(z|x) = N(μ, σ²) over
// a flat latent z ∈ R^d, the prior p(z) = N(0, I), and a conv decoder p(x|z) that gives every pixel value its own
// distribution (a mean and a spread: the decoder says where it is sure, e.g. on a flat background, and where it is
// not): a Gaussian over the dequantised pixels or a discretised logistic over the 256 levels (config.likelihood).
// Trains on the negative ELBO (./vae-elbo.ts); serves reconstructions, variations (samples of q(z|x)), blends
// (decoded interpolations between two images' μ) and prior samples.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, type CheckpointManifest } from "./checkpoint";
import { conv, createConv, createDense, dense, type Conv, type Dense } from "./layers";
import { createDownStages, createUpStages, downStages, upStages, type DownStage, type UpStage } from "./conv-stages";
import { ParamStore } from "./params";
import { discretizedLogisticNll } from "./discretized-logistic";
import {
  bottomSize,
  LOGISTIC_LOG_STD_OFFSET,
  pixelDims,
  spreadFloor,
  validateVAEConfig,
  vaeConfigFromManifest,
  type VAEConfig,
} from "./vae-config";
import { dequantizedGaussianNll, gaussianKl, reparameterize, slerp } from "./vae-elbo";

export interface VAETerms {
  /** Negative ELBO per image, nats of the discrete 8-bit data (nll + kl). [B] */
  negElbo: tf.Tensor1D;
  /** Reconstruction term E_q[−log p(x|z)] (one sample of z), nats of the 8-bit data (see pixelNll). [B] */
  nll: tf.Tensor1D;
  /** KL(q(z|x) ‖ N(0, I)), closed form. [B] */
  kl: tf.Tensor1D;
  /** Posterior means, for diagnostics (active units). [B, d] */
  mu: tf.Tensor2D;
}

/**
 * p(x|z) per pixel value, in y = (x + u)/256 units: `mean`, and `logVar` the log of the distribution's variance
 * (for the logistic of scale s, 2 ln s + ln(π²/3)), so a spread means one thing whichever family config.likelihood
 * names. [B, S, S, C] each
 */
export interface PixelDistribution {
  mean: tf.Tensor4D;
  logVar: tf.Tensor4D;
}

export class VAE {
  readonly params: ParamStore;
  private readonly enc: { stages: DownStage[]; head: Dense };
  private readonly dec: { input: Dense; stages: UpStage[]; out: Conv };

  constructor(
    readonly config: VAEConfig,
    seed = 0,
  ) {
    validateVAEConfig(config);
    const c = config;
    const store = (this.params = new ParamStore(seed));
    const widths = c.widths;
    const deepest = widths[widths.length - 1];
    const flat = bottomSize(c) ** 2 * deepest;
    // As the tokenizers' encoder and decoder (./conv-stages.ts).
    const encStages = createDownStages(store, "vae.enc", c.channels, widths, c.resBlocks, c.padding);
    // A small head: at the start μ ≈ 0 and log σ² ≈ 0, i.e. q(z|x) ≈ the prior, and the KL starts near zero.
    this.enc = { stages: encStages, head: createDense(store, "vae.enc.head", flat, 2 * c.latentDim, 0.1) };
    const decStages = createUpStages(store, "vae.dec", widths, c.resBlocks, c.padding, widths[0]);
    this.dec = {
      input: createDense(store, "vae.dec.in", c.latentDim, flat),
      stages: decStages,
      // Two values per pixel channel: the mean and (before the floor) the spread: log σ² or the logistic's log s.
      out: createConv(store, "vae.dec.out", 3, widths[0], 2 * c.channels, 1, c.padding),
    };
  }

  /** Loads a checkpoint folder written by the trainer (float32 or float16 weights). */
  static load(dir: string): { model: VAE; manifest: CheckpointManifest } {
    return restoreModel(dir, ["vae"], (config) => new VAE(vaeConfigFromManifest(config)));
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  /** q(z|x): images [B, S, S, C] in [0, 1] → μ and log σ², [B, d] each. */
  encode(images: tf.Tensor4D): { mu: tf.Tensor2D; logVar: tf.Tensor2D } {
    return tf.tidy(() => {
      const h = downStages(this.enc.stages, tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D); // [0,1] → [-1,1] → [B, s, s, C_last]
      const flat = tf.reshape(tf.relu(h), [h.shape[0], -1]) as tf.Tensor2D; // [B, s·s·C_last]
      const [mu, logVar] = tf.split(dense(this.enc.head, flat), 2, 1) as [tf.Tensor2D, tf.Tensor2D]; // [B, d] each
      return { mu, logVar };
    });
  }

  /** p(x|z): latents [B, d] → the per-pixel distribution over y ∈ [0, 1]: mean and log-variance. */
  decodeDistribution(z: tf.Tensor2D): PixelDistribution {
    return tf.tidy(() => {
      const c = this.config;
      const s = bottomSize(c);
      const deepest = c.widths[c.widths.length - 1];
      const bottom = tf.reshape(dense(this.dec.input, z), [z.shape[0], s, s, deepest]) as tf.Tensor4D; // [B, s, s, C_last]
      const h = upStages(this.dec.stages, bottom); // [B, S, S, widths[0]]
      const out = conv(this.dec.out, tf.relu(h)); // [B, S, S, 2C]
      const [m, raw] = tf.split(out, 2, 3) as [tf.Tensor4D, tf.Tensor4D]; // [B, S, S, C] each
      // The mean on the encoder's [-1, 1] scale, as the tokenizers' decoder; the spread softly floored.
      const mean = tf.div(tf.add(m, 1), 2) as tf.Tensor4D;
      const { floor, offset } = spreadFloor(c);
      // "gaussian-fixed": the floor is the value (raw then gets no gradient and stays as initialised).
      const learned = c.likelihood === "gaussian-fixed" ? tf.zerosLike(raw) : tf.softplus(tf.add(tf.mul(raw, c.logVarGain), offset));
      const spread = tf.add(floor, learned); // [B, S, S, C]
      // The logistic's ln s → ln of its variance s²π²/3.
      const logVar = (c.likelihood === "logistic" ? tf.mul(2, tf.add(spread, LOGISTIC_LOG_STD_OFFSET)) : spread) as tf.Tensor4D;
      return { mean, logVar };
    });
  }

  /** Latents [B, d] → images [B, S, S, C] in [0, 1] (x/255): the decoder's mean, moved from bin units and clipped. */
  decode(z: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const { mean } = this.decodeDistribution(z);
      // y = (x + u)/256 has mean (x + ½)/256, so the pixel value the mean stands for is 256·m − ½.
      return tf.div(tf.clipByValue(tf.sub(tf.mul(mean, 256), 0.5), 0, 255), 255) as tf.Tensor4D;
    });
  }

  /**
   * −log p(x|z) per image in nats of the discrete 8-bit data, under config.likelihood: the dequantised Gaussian
   * bound (./vae-elbo.ts) or the discretised logistic's exact mass (./discretized-logistic.ts). images [B, S, S, C]
   * in [0, 1] → [B]
   */
  pixelNll(images: tf.Tensor4D, p: PixelDistribution): tf.Tensor1D {
    return tf.tidy(() => {
      if (this.config.likelihood !== "logistic") return dequantizedGaussianNll(images, p.mean, p.logVar);
      const logScale = tf.sub(tf.mul(0.5, p.logVar), LOGISTIC_LOG_STD_OFFSET) as tf.Tensor4D; // [B, S, S, C]
      return discretizedLogisticNll(images, p.mean, logScale);
    });
  }

  /**
   * The ELBO's terms for a batch (training and validation), one sample z = μ + σ ⊙ ε with ε from `seed`;
   * `klWeight` (default 1, the ELBO itself) only scales what `negElbo` adds for a KL warm-up.
   */
  terms(images: tf.Tensor4D, seed: number, klWeight = 1): VAETerms {
    return tf.tidy(() => {
      const { mu, logVar } = this.encode(images);
      const eps = tf.randomNormal(mu.shape, 0, 1, "float32", seed) as tf.Tensor2D; // [B, d]
      const z = reparameterize(mu, logVar, eps);
      const p = this.decodeDistribution(z);
      const nll = this.pixelNll(images, p);
      const kl = gaussianKl(mu, logVar);
      return { negElbo: tf.add(nll, tf.mul(klWeight, kl)) as tf.Tensor1D, nll, kl, mu };
    });
  }

  /** decode(μ(x)): what the model keeps of each image. [B, S, S, C] → [B, S, S, C] */
  reconstruct(images: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => this.decode(this.encode(images).mu));
  }

  /** `n` images decoded from prior samples z ~ N(0, I). */
  sample(n: number, seed: number): tf.Tensor4D {
    return tf.tidy(() => this.decode(tf.randomNormal([n, this.latentDim], 0, 1, "float32", seed) as tf.Tensor2D));
  }

  /**
   * `k` variations of one image: z = μ + scale·σ ⊙ ε, samples of q(z|x) with its spread scaled (0 = k copies of the
   * reconstruction), decoded. image [1, S, S, C] → [k, S, S, C]
   */
  variations(image: tf.Tensor4D, k: number, scale: number, seed: number): tf.Tensor4D {
    if (image.shape[0] !== 1) throw new Error(`variations: one image [1, S, S, C], got [${image.shape}]`);
    return tf.tidy(() => {
      const { mu, logVar } = this.encode(image);
      const eps = tf.mul(scale, tf.randomNormal([k, this.latentDim], 0, 1, "float32", seed)) as tf.Tensor2D; // [k, d]
      // μ and log σ² broadcast from [1, d] over the k rows.
      return this.decode(reparameterize(mu, logVar, eps));
    });
  }

  /**
   * A strip of `steps` images from a to b: their posterior means spherically interpolated (see slerp), ends
   * included, so the first and last are the two reconstructions. a, b [1, S, S, C] → [steps, S, S, C]
   */
  blend(a: tf.Tensor4D, b: tf.Tensor4D, steps: number): tf.Tensor4D {
    if (a.shape[0] !== 1 || b.shape[0] !== 1) throw new Error(`blend: two single images [1, S, S, C], got [${a.shape}] and [${b.shape}]`);
    if (!(Number.isInteger(steps) && steps >= 2)) throw new Error(`blend: steps must be an integer ≥ 2, got ${steps}`);
    return tf.tidy(() => {
      const mus = this.encode(tf.concat([a, b], 0) as tf.Tensor4D).mu; // [2, d]
      const v = mus.dataSync() as Float32Array;
      const d = this.latentDim;
      const ts = Array.from({ length: steps }, (_, i) => i / (steps - 1));
      const z = tf.tensor2d(slerp(v.subarray(0, d), v.subarray(d), ts), [steps, d]); // [T, d]
      return this.decode(z);
    });
  }

  /** D: pixel values per image. */
  get dims(): number {
    return pixelDims(this.config);
  }

  dispose(): void {
    this.params.dispose();
  }
}
