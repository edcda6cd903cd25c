// A discretised logistic likelihood over 8-bit pixel levels (Salimans et al. 2017, "PixelCNN++", §2.1): each pixel
// value x ∈ {0..255} gets the mass of a logistic(μ, s) over its bin, P(x) = F(x⁺) − F(x⁻) with F the logistic CDF
// σ((· − μ)/s), in the units of the dequantised pixels y = (x + u)/256 (./vae-elbo.ts): bin x spans
// [x/256, (x + 1)/256), so μ = (x + ½)/256 puts the logistic on the bin's centre, as the Gaussian's mean does, and
// the decoder's mean means one thing whichever likelihood trained it. The edge bins take the tails: x = 0 gets
// F(1/256) (everything below), x = 255 gets 1 − F(255/256) (everything above), so the 256 masses sum to 1 for
// any μ and s, and −log P(x) is the negative log-likelihood of the discrete data itself — the same units as the
// dequantised bound E_u[−log p(y)] + D·log 256, never above it for the same density integrated over the bins.
import * as tf from "@tensorflow/tfjs";
import { BIN_WIDTH } from "./vae-config";

/**
 * log(1 − e^(−Δ)) for Δ > 0 without the cancellation of 1 − e^(−Δ) at small Δ (tfjs has no expm1): below 0.01 the
 * series log Δ + log(1 − Δ/2 + Δ²/6) (truncation < Δ³/24 ≈ 4e-8), above it the direct form. Its gradient,
 * 1/(e^Δ − 1), is given by hand: a tf.where would send gradients into the branch it does not take and into its
 * comparison, which tfjs cannot differentiate.
 */
const log1mExpNeg = tf.customGrad(((delta: tf.Tensor, save: tf.GradSaveFunc) => {
  save([delta]);
  const series = tf.add(tf.log(delta), tf.log1p(tf.add(tf.mul(delta, -0.5), tf.div(tf.square(delta), 6))));
  const direct = tf.log(tf.sub(1, tf.exp(tf.neg(tf.maximum(delta, 0.01)))));
  return {
    value: tf.where(tf.less(delta, 0.01), series, direct),
    gradFunc: (dy: tf.Tensor, [d]: tf.Tensor[]) => {
      // e^Δ − 1 = Δ(1 + Δ/2 + Δ²/6 + …) below 0.01, as above.
      const expm1 = tf.where(tf.less(d, 0.01), tf.mul(d, tf.add(1, tf.add(tf.mul(d, 0.5), tf.div(tf.square(d), 6)))), tf.sub(tf.exp(d), 1));
      return tf.div(dy, expm1);
    },
  };
}) as Parameters<typeof tf.customGrad>[0]) as (delta: tf.Tensor) => tf.Tensor;

/**
 * log P(x) per pixel value under the discretised logistic. `images` are x/255 in [0, 1] (as the app holds them);
 * `mean` (μ, in y units) and `logScale` (ln s) broadcast against them. → the broadcast shape, nats (≤ 0).
 *
 * With a = (x⁺ − μ)/s and b = (x⁻ − μ)/s, a − b = δ/s = Δ for every interior bin, and
 *     σ(a) − σ(b) = σ(a)·(1 − σ(b))·(1 − e^(−Δ))
 * (put both over (1 + e^a)(1 + e^b)), so log P = (a − softplus(a)) − softplus(b) + log(1 − e^(−Δ)): a sum of
 * terms that are each accurate, where the plain difference of two CDFs rounds to 0 in the tails and where
 * PixelCNN++ switches to the density at the bin centre times δ instead. The edges are the one-sided terms:
 * log F(x⁺) = a − softplus(a) at x = 0 and log(1 − F(x⁻)) = −softplus(b) at x = 255.
 */
export function discretizedLogisticLogProb(images: tf.Tensor, mean: tf.Tensor, logScale: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.round(tf.mul(images, 255)); // the 8-bit levels
    const invS = tf.exp(tf.neg(logScale));
    const centred = tf.sub(tf.mul(tf.add(x, 0.5), BIN_WIDTH), mean); // bin centre − μ
    const a = tf.mul(tf.add(centred, BIN_WIDTH / 2), invS); // (x⁺ − μ)/s
    const b = tf.mul(tf.sub(centred, BIN_WIDTH / 2), invS); // (x⁻ − μ)/s
    const logCdfUpper = tf.sub(a, tf.softplus(a)); // log σ(a)
    const logSfLower = tf.neg(tf.softplus(b)); // log(1 − σ(b))
    const interior = tf.add(tf.add(logCdfUpper, logSfLower), log1mExpNeg(tf.mul(invS, BIN_WIDTH)));
    // where() wants one shape: everything at the broadcast shape of x, μ and s.
    const shape = interior.shape;
    const wide = (t: tf.Tensor) => tf.broadcastTo(t, shape);
    const atBottom = wide(tf.equal(x, 0));
    const atTop = wide(tf.equal(x, 255));
    return tf.where(atBottom, wide(logCdfUpper), tf.where(atTop, wide(logSfLower), interior));
  });
}

/** −log P(x) per image, nats of the discrete data (no dequantisation term: P is already a mass). [B, S, S, C] → [B] */
export function discretizedLogisticNll(images: tf.Tensor4D, mean: tf.Tensor4D, logScale: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => tf.neg(tf.sum(discretizedLogisticLogProb(images, mean, logScale), [1, 2, 3])) as tf.Tensor1D);
}
