// The lab's adversarial autoencoder (Makhzani et al. 2016, "Adversarial Autoencoders"): the VAE's encoder and
// decoder (./vae.ts, the same networks and likelihoods: config.likelihood), but the KL(q(z|x) ‖ p(z)) term of the ELBO is
// replaced by adversarial prior matching: a discriminator D on the latent space learns to tell samples of the prior
// p(z) = N(0, I) from codes z ~ q(z|x) of training images, and the encoder learns to fool it, which pushes the
// *aggregate* posterior q(z) = E_x q(z|x) towards p(z) (the VAE's KL pulls every q(z|x) towards p(z) instead). The
// paper's "Gaussian posterior" choice: z = μ + σ·ε, as the VAE. Decoding prior samples then gives new images.
//
// One scalar trains both players (as the VQ-GAN's objective, training/vq/gan.ts): the encoder's adversarial term
// sees D through a stop-gradient on its weights, and D's own term sees the codes through a stop-gradient. The
// adversarial term's weight is the task's: fixed, or the adaptive λ of Esser et al. 2021 (eq. 7) that
// `adaptiveWeight` measures on the encoder's last layer.
import * as tf from "@tensorflow/tfjs";
import { restoreModel, type CheckpointManifest } from "./checkpoint";
import { adaptiveWeight, discriminatorLoss, generatorLoss } from "./gan-loss";
import { createDense, dense, stopGradient, type Dense } from "./layers";
import type { ParamStore } from "./params";
import { VAE } from "./vae";
import { DEFAULT_VAE_CONFIG, validateVAEConfig, type VAEConfig } from "./vae-config";
import { reparameterize } from "./vae-elbo";

export interface AAEConfig extends Omit<VAEConfig, "kind"> {
  kind: "aae";
  /** Width of the latent discriminator's two hidden layers (the paper: two layers of 1,000 on MNIST). */
  discHidden: number;
}

export const DEFAULT_AAE_CONFIG: Readonly<AAEConfig> = Object.freeze({
  ...DEFAULT_VAE_CONFIG,
  kind: "aae",
  discHidden: 256,
} satisfies AAEConfig);

/** Name prefix of the latent discriminator's parameters. */
export const LATENT_DISC_PREFIX = "aae.disc.";

/**
 * The encoder's last layer: the weights of the VAE's dense head that gives μ and log σ² (./vae.ts, "vae.enc.head"),
 * [s·s·C_last, 2d]. The adaptive λ compares gradients here: it is the layer the adversarial term trains through z
 * (Esser et al. take the decoder's last layer, the one their generator term trains through x̂; the AAE's
 * generator term never reaches the decoder).
 */
export const ENCODER_LAST_LAYER = "vae.enc.head.w";

export function validateAAEConfig(c: AAEConfig): AAEConfig {
  if (c.kind !== "aae") throw new Error(`invalid AAE config: kind must be "aae", got ${String(c.kind)}`);
  if (!(Number.isInteger(c.discHidden) && c.discHidden >= 1)) throw new Error("invalid AAE config: discHidden must be an integer ≥ 1");
  validateVAEConfig({ ...c, kind: "vae" });
  return c;
}

export interface AAETerms {
  /** −log p(x|z) per image for one z ~ q(z|x), nats of the discrete data (as the VAE's nll). [B] */
  nll: tf.Tensor1D;
  /** The codes the discriminator judges. [B, d] */
  z: tf.Tensor2D;
  /** The encoder's adversarial loss −log σ(D(z)) (D frozen): lower when D takes the codes for prior samples. */
  generator: tf.Scalar;
  /** D's loss on prior samples (real) against the codes (fake, detached). */
  discriminator: tf.Scalar;
  /** D's accuracy on this batch (prior samples called real, codes called fake), for the log. */
  discAccuracy: tf.Scalar;
}

export class AAE {
  /** Encoder and decoder: reconstruct, sample, variations and blends are the VAE's. */
  readonly vae: VAE;
  private readonly disc: { h1: Dense; h2: Dense; out: Dense; curvature: tf.Variable };

  constructor(
    readonly config: AAEConfig,
    seed = 0,
  ) {
    validateAAEConfig(config);
    this.vae = new VAE({ ...config, kind: "vae" }, seed);
    const store = this.vae.params;
    const d = config.latentDim;
    this.disc = {
      h1: createDense(store, `${LATENT_DISC_PREFIX}h1`, d, config.discHidden, Math.SQRT2),
      h2: createDense(store, `${LATENT_DISC_PREFIX}h2`, config.discHidden, config.discHidden, Math.SQRT2),
      out: createDense(store, `${LATENT_DISC_PREFIX}out`, config.discHidden, 1),
      curvature: store.add(`${LATENT_DISC_PREFIX}curvature`, tf.zeros([d])),
    };
  }

  get params(): ParamStore {
    return this.vae.params;
  }

  get latentDim(): number {
    return this.config.latentDim;
  }

  /** Loads a checkpoint folder written by the trainer. */
  static load(dir: string): { model: AAE; manifest: CheckpointManifest } {
    return restoreModel(dir, ["aae"], (config) => new AAE(validateAAEConfig({ ...DEFAULT_AAE_CONFIG, ...config } as AAEConfig)));
  }

  /**
   * D(z): one logit per latent (prior sample > 0). `frozen` reads D's weights through a stop-gradient. [B, d] → [B]
   *
   * logit = MLP(z) − Σ_j c_j·z_j²/d. The optimal logit is log p(z)/q(z), and for a Gaussian q that ratio is exactly
   * a quadratic in z: the learned diagonal curvature c (either sign: codes too spread or too concentrated) gives D
   * that part for free. It matters for the game: a leaky-ReLU MLP alone extrapolates linearly, so "more real" never
   * ends along some direction, and the encoder, which moves faster than D, ran its codes off along it (the codes'
   * mean reached 1.6 per dimension and D's accuracy fell to 0.04 by step 250 without this term).
   */
  discriminate(z: tf.Tensor2D, frozen = false): tf.Tensor1D {
    return tf.tidy(() => {
      const sg = <T extends tf.Tensor>(v: T): T => (frozen ? stopGradient(v) : v);
      const w = (l: Dense): Dense => (frozen ? { w: sg(l.w), b: sg(l.b) } : l);
      const h1 = tf.leakyRelu(dense(w(this.disc.h1), z), 0.2) as tf.Tensor2D; // [B, H]
      const h2 = tf.leakyRelu(dense(w(this.disc.h2), h1), 0.2) as tf.Tensor2D; // [B, H]
      const mlp = tf.reshape(dense(w(this.disc.out), h2), [-1]); // [B, 1] → [B]
      const quadratic = tf.mean(tf.mul(sg(this.disc.curvature), tf.square(z)), 1); // [B]
      return tf.sub(mlp, quadratic) as tf.Tensor1D;
    });
  }

  /**
   * The objective's terms for a batch of images [B, S, S, C] in [0, 1]: z = μ + σ·ε from `seed`, and B prior
   * samples from `seed + 1` for D.
   */
  terms(images: tf.Tensor4D, seed: number): AAETerms {
    return tf.tidy(() => {
      const { mu, logVar } = this.vae.encode(images);
      const eps = tf.randomNormal(mu.shape, 0, 1, "float32", seed) as tf.Tensor2D; // [B, d]
      const z = reparameterize(mu, logVar, eps);
      const p = this.vae.decodeDistribution(z);
      const nll = this.vae.pixelNll(images, p); // the VAE's likelihood, whichever config.likelihood names
      const prior = tf.randomNormal(mu.shape, 0, 1, "float32", (seed + 1) >>> 0) as tf.Tensor2D; // [B, d]
      const realLogits = this.discriminate(prior);
      const fakeLogits = this.discriminate(stopGradient(z));
      const discAccuracy = tf.mean(
        tf.concat([tf.cast(tf.greater(realLogits, 0), "float32"), tf.cast(tf.lessEqual(fakeLogits, 0), "float32")]),
      ) as tf.Scalar;
      return {
        nll,
        z,
        generator: generatorLoss(this.discriminate(z, true)),
        discriminator: discriminatorLoss(realLogits, fakeLogits),
        discAccuracy,
      };
    });
  }

  /** The reconstruction term per pixel value, mean over the batch of −log p(x|z), over D: the task's loss's first term. */
  reconstruction(t: AAETerms): tf.Scalar {
    return tf.tidy(() => tf.div(tf.mean(t.nll), this.vae.dims) as tf.Scalar);
  }

  /**
   * The adaptive weight of the generator term (Esser et al. 2021, eq. 7): λ = ‖∇_W L_rec‖ / (‖∇_W L_G‖ + δ),
   * clipped as ./gan-loss.ts adaptiveWeight, with W the encoder's last layer (ENCODER_LAST_LAYER), L_rec the
   * reconstruction term per pixel value (`reconstruction`) and L_G the generator loss, both of `terms(images, seed)`:
   * the same batch and noise as the step's. The gradients are taken with respect to W alone, the rest of the net
   * held fixed. λ·L_G then moves W as hard as L_rec does, whatever the scale of either loss; it is in the units of
   * a loss whose reconstruction term is per pixel value, as the task's. Costs two more forward passes and two
   * backward passes to W (the tape's, inside the trainer's: the result is a number, so it carries no gradient).
   */
  adaptiveWeight(images: tf.Tensor4D, seed: number): number {
    const w = this.params.get(ENCODER_LAST_LAYER);
    const norm = (term: (t: AAETerms) => tf.Scalar) =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => term(this.terms(images, seed)), [w]);
        value.dispose();
        return tf.norm(grads[w.name]).dataSync()[0];
      });
    return adaptiveWeight(
      norm((t) => this.reconstruction(t)),
      norm((t) => t.generator),
    );
  }

  dispose(): void {
    this.vae.dispose();
  }
}
