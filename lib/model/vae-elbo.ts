// The VAE's objective, term by term (Kingma & Welling 2014), in one likelihood convention that the pixel baseline
// and any other lab model can share, so their numbers compare:
//
// 8-bit pixels x ∈ {0..255} are uniformly dequantised, y = (x + u)/256 with u ~ U[0, 1) (Theis et al. 2016), and a
// continuous density p(y) on [0, 1]^D bounds the discrete likelihood: log P(x) ≥ E_u[log p(y)] − D·log 256. For a
// VAE with q(z|x) (independent of u) the same step gives
//     −log P(x) ≤ E_q[ Σ_i E_u[−log N(y_i; m_i(z), σ_i²(z))] ] + D·log 256 + KL(q(z|x) ‖ N(0, I)),
// the negative ELBO in nats per image of the discrete data, and bits/dim = nats / (D·ln 2). The expectation over
// u is taken in closed form: E_u[(y − m)²] = (x̄ − m)² + δ²/12 with x̄ = (x + ½)/256 the bin centre and δ = 1/256,
// so validation is exact in u and needs no noise. The discretised logistic (./discretized-logistic.ts) gives P(x)
// itself, a mass per level: the same units with no dequantisation term, and the bound above is tight for it (its
// density, constant on each bin, integrates to P(x) there).
import * as tf from "@tensorflow/tfjs";
import { BIN_WIDTH } from "./vae-config";

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * KL(N(μ, σ²) ‖ N(0, I)) per row, in closed form (Kingma & Welling 2014, appendix B):
 * ½ Σ_j (μ_j² + σ_j² − 1 − log σ_j²). [B, d] → [B]
 */
export function gaussianKl(mu: tf.Tensor2D, logVar: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.mul(0.5, tf.sum(tf.sub(tf.add(tf.square(mu), tf.exp(logVar)), tf.add(1, logVar)), 1)) as tf.Tensor1D);
}

/**
 * The reparameterisation trick (Kingma & Welling 2014, §2.4): z = μ + σ ⊙ ε with ε ~ N(0, I) drawn outside the
 * graph, so the gradient reaches μ and log σ² through a deterministic function. [B, d] each → [B, d]
 */
export function reparameterize(mu: tf.Tensor2D, logVar: tf.Tensor2D, eps: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.add(mu, tf.mul(tf.exp(tf.mul(0.5, logVar)), eps)) as tf.Tensor2D);
}

/** Images as the app holds them (x/255 in [0, 1]) → the centres of their dequantisation bins, (x + ½)/256. */
export function binCentres(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.mul(tf.add(tf.round(tf.mul(images, 255)), 0.5), BIN_WIDTH) as tf.Tensor4D);
}

/**
 * −log P(x) of a per-pixel Gaussian N(mean, exp(logVar)) on the dequantised pixels, per image, in nats of the
 * discrete data: Σ_i E_u[−log N(y_i; mean_i, σ_i²)] + D·log 256 (see the top of this file). `mean` and `logVar`
 * broadcast against the images (the pixel baseline passes one [1, S, S, C] pair for every image). → [B]
 */
export function dequantizedGaussianNll(images: tf.Tensor4D, mean: tf.Tensor4D, logVar: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const d = images.shape[1] * images.shape[2] * images.shape[3];
    const sq = tf.add(tf.square(tf.sub(binCentres(images), mean)), (BIN_WIDTH * BIN_WIDTH) / 12); // E_u[(y − m)²]
    const perPixel = tf.mul(0.5, tf.add(tf.add(LOG_2PI, logVar), tf.mul(sq, tf.exp(tf.neg(logVar))))); // [B, S, S, C]
    return tf.add(tf.sum(perPixel, [1, 2, 3]), d * Math.log(1 / BIN_WIDTH)) as tf.Tensor1D;
  });
}

/** Nats per image → bits per dimension (D pixel values per image). */
export function bitsPerDim(natsPerImage: number, dims: number): number {
  return natsPerImage / (dims * Math.LN2);
}

/**
 * Spherical interpolation (Shoemake 1985; for generative models White 2016, "Sampling Generative Networks") from
 * a to b at each t in `ts`: rows [T·d]. Linear midpoints of two near-orthogonal latents are shorter than either end
 * (|½(a + b)| ≈ |a|/√2 in high dimension), i.e. closer to the origin, where the decoder draws the blurry average
 * image; slerp keeps the norm. Nearly parallel ends fall back to linear interpolation (the two agree there).
 */
export function slerp(a: Float32Array, b: Float32Array, ts: readonly number[]): Float32Array {
  if (a.length !== b.length) throw new Error(`slerp: vectors of length ${a.length} and ${b.length}`);
  const d = a.length;
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < d; j++) {
    ab += a[j] * b[j];
    aa += a[j] * a[j];
    bb += b[j] * b[j];
  }
  const cos = aa > 0 && bb > 0 ? Math.min(1, Math.max(-1, ab / Math.sqrt(aa * bb))) : 1;
  const omega = Math.acos(cos);
  const out = new Float32Array(ts.length * d);
  ts.forEach((t, i) => {
    const [wa, wb] =
      Math.sin(omega) < 1e-4 ? [1 - t, t] : [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
    for (let j = 0; j < d; j++) out[i * d + j] = wa * a[j] + wb * b[j];
  });
  return out;
}
