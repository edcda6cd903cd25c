// The VQ-GAN's adversarial terms (Esser et al. 2021, "Taming Transformers", eq. 4–7), with the original GAN's
// non-saturating generator loss (Goodfellow et al. 2014): the discriminator D minimises
//   −log σ(D(x)) − log(1 − σ(D(x̂)))
// and the generator (the tokenizer's decoder) minimises −log σ(D(x̂)) rather than log(1 − σ(D(x̂))), which gives
// strong gradients exactly when D wins. log σ(l) = −softplus(−l), so all three are softplus of logits.
import * as tf from "@tensorflow/tfjs";

/** D's loss: softplus(−D(real)) + softplus(D(fake)), each averaged over patches. */
export function discriminatorLoss(realLogits: tf.Tensor, fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.add(tf.mean(tf.softplus(tf.neg(realLogits))), tf.mean(tf.softplus(fakeLogits))) as tf.Scalar);
}

/** The generator's non-saturating loss: softplus(−D(fake)) = −log σ(D(x̂)), lower when D calls the fakes real. */
export function generatorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.softplus(tf.neg(fakeLogits))) as tf.Scalar);
}

/**
 * Feature matching (Salimans et al. 2016): mean |D_l(x̂) − D_l(x)| over D's layers, the real side held fixed. No
 * pretrained VGG can be had here, so this stands in for LPIPS as the VQ-GAN's perceptual term.
 */
export function featureMatchingLoss(fake: tf.Tensor[], real: tf.Tensor[]): tf.Scalar {
  if (fake.length !== real.length || !fake.length)
    throw new Error(`feature matching needs matching layers, got ${fake.length} and ${real.length}`);
  return tf.tidy(() => tf.div(tf.addN(fake.map((f, i) => tf.mean(tf.abs(tf.sub(f, real[i]))))), fake.length) as tf.Scalar);
}

/**
 * The adaptive weight λ = ‖∇_G_L L_rec‖ / (‖∇_G_L L_GAN‖ + δ) on the decoder's last layer G_L (Esser et al. 2021,
 * eq. 7), clipped to [0, 1e4] as in taming-transformers: it keeps the adversarial gradient the same size as the
 * reconstruction's whatever the scale of either loss.
 */
export function adaptiveWeight(recGradNorm: number, ganGradNorm: number, delta = 1e-4): number {
  if (!Number.isFinite(recGradNorm) || !Number.isFinite(ganGradNorm)) return 0;
  return Math.min(1e4, Math.max(0, recGradNorm / (ganGradNorm + delta)));
}
