// The VQ-GAN objective (Esser et al. 2021) on top of a VQ-VAE's: reconstruction + commitment as before, plus a
// perceptual term (feature matching on the discriminator, standing in for LPIPS, which needs a pretrained VGG this
// world cannot download) and the adaptive-weighted non-saturating adversarial loss, while the patch discriminator
// learns to tell reconstructions from real images.
//
// One scalar trains both players with the loop's single optimizer: the generator's terms see the discriminator
// through a stop-gradient on its weights, the discriminator's term sees the reconstructions through a stop-gradient,
// so each parameter gets the gradient of its own player's loss only. (The loop clips the global gradient norm over
// both together; the tokenizer trainer does not clip.)
//
// λ is state: measured on some steps (lambdaPlan), held between them. The tfjs path measures it inside `terms`; the
// native graph (lib/model/onnx/vqgan-training-graph.ts) measures it the same way on the same steps, and the task
// hands back the λ the graph used (`hold`), so both engines share one schedule and one definition.
import * as tf from "@tensorflow/tfjs";
import { createDiscriminator, discriminate, type Discriminator, type DiscriminatorConfig } from "../../lib/model/discriminator";
import { adaptiveWeight, discriminatorLoss, featureMatchingLoss, generatorLoss } from "../../lib/model/gan-loss";
import { stopGradient } from "../../lib/model/layers";
import type { VQForward, VQModel } from "../../lib/model/vq-model";

export interface GanOptions {
  /** Steps of this run before the generator feels the adversarial loss (the discriminator trains from step 0). */
  start: number;
  /** Multiplies the adaptive weight λ (taming-transformers' disc_weight). */
  discWeight: number;
  /** Weight of the feature-matching (perceptual) term, from step 0. */
  featureWeight: number;
  /**
   * λ is re-measured every this many steps (on tfjs it costs a second pass through the last layer and D; the native
   * graph computes it every step and takes it only on these, to keep one schedule for both engines).
   */
  lambdaEvery: number;
}

export const DEFAULT_GAN_OPTIONS: Readonly<GanOptions> = Object.freeze({
  start: 100,
  discWeight: 0.25,
  featureWeight: 0.1,
  lambdaEvery: 10,
});

/** The norm of the gradient of `loss(w)` with respect to the last layer's weights `w`. */
function gradNorm(loss: (w: tf.Tensor4D) => tf.Scalar, w: tf.Tensor4D): number {
  return tf.tidy(() => {
    const [g] = tf.grads((x: tf.Tensor) => loss(x as tf.Tensor4D))([w]);
    return tf.norm(g).dataSync()[0];
  });
}

/** How a step treats λ: whether the generator term is on, whether λ is measured afresh, and the λ held so far. */
export interface LambdaPlan {
  on: boolean;
  remeasure: boolean;
  held: number;
}

export class GanObjective {
  private lambda = 0;
  private readonly disc: Discriminator;

  /** The discriminator's parameters go into the model's store (the loop trains one store) under "disc.*". */
  constructor(
    private readonly model: VQModel,
    readonly discConfig: DiscriminatorConfig,
    readonly options: GanOptions,
  ) {
    this.disc = createDiscriminator(model.params, discConfig);
  }

  /**
   * λ at `step`: off before `start`; measured on the first step it is on (while it is still 0) and every
   * `lambdaEvery` steps; held in between.
   */
  lambdaPlan(step: number): LambdaPlan {
    const on = step >= this.options.start;
    return { on, remeasure: on && (this.lambda === 0 || step % this.options.lambdaEvery === 0), held: this.lambda };
  }

  /** The λ a step used (the native graph measures it there), held for the steps until the next measurement. */
  hold(lambda: number): void {
    this.lambda = lambda;
  }

  /** The λ held now. */
  get heldLambda(): number {
    return this.lambda;
  }

  /**
   * The terms to add to the VQ-VAE's loss for this batch (`f` = model.forward(images)), inside the loop's tape.
   * Returns the sum and its parts for the log.
   */
  terms(images: tf.Tensor4D, f: VQForward, step: number): { loss: tf.Scalar; logs: Record<string, tf.Scalar> } {
    const o = this.options;
    const b = images.shape[0];
    // D's own pass: real and (detached) fake images in one batch. [2B, …]
    const both = discriminate(this.disc, tf.concat([images, stopGradient(f.reconstruction)]) as tf.Tensor4D);
    const half = (t: tf.Tensor4D, i: 0 | 1) => tf.slice(t, [i * b, 0, 0, 0], [b, -1, -1, -1]) as tf.Tensor4D; // [B, …]
    const fakeForG = discriminate(this.disc, f.reconstruction, true);
    const realFeatures = both.features.map((t) => stopGradient(half(t, 0)));
    const perceptual = featureMatchingLoss(fakeForG.features, realFeatures);
    const gen = generatorLoss(fakeForG.logits);
    const realLogits = half(both.logits, 0);
    const dLoss = discriminatorLoss(realLogits, half(both.logits, 1));
    const plan = this.lambdaPlan(step);
    if (plan.remeasure) this.lambda = this.measureLambda(images, f, realFeatures);
    const weight = plan.on ? this.lambda * o.discWeight : 0;
    const loss = tf.addN([tf.mul(perceptual, o.featureWeight), tf.mul(gen, weight), dLoss]) as tf.Scalar;
    return {
      loss,
      logs: { perceptual, generator: gen, discriminator: dLoss, ganWeight: tf.scalar(weight), dReal: tf.mean(realLogits) as tf.Scalar },
    };
  }

  /** λ = ‖∇ L_rec‖ / ‖∇ L_GAN‖ on the decoder's last layer (eq. 7), the rest of the net held fixed. */
  private measureLambda(images: tf.Tensor4D, f: VQForward, realFeatures: tf.Tensor4D[]): number {
    const { conv, head } = this.model.lastLayer;
    const features = stopGradient(f.features);
    const w = conv.w as unknown as tf.Tensor4D;
    const recon = (x: tf.Tensor4D) => {
      const y = head(features, x);
      const fake = discriminate(this.disc, y, true);
      return tf.add(
        tf.mean(tf.square(tf.sub(y, images))),
        tf.mul(featureMatchingLoss(fake.features, realFeatures), this.options.featureWeight),
      ) as tf.Scalar;
    };
    const adversarial = (x: tf.Tensor4D) => generatorLoss(discriminate(this.disc, head(features, x), true).logits);
    return adaptiveWeight(gradNorm(recon, w), gradNorm(adversarial, w));
  }
}
