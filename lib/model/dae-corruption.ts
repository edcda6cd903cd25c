// The corruption q(x̃|x) the denoising autoencoder learns to undo (Vincent et al. 2008 train with additive Gaussian,
// masking and salt-and-pepper noise): what a scanned, photographed or re-compressed upload suffers. Seeded, so the
// trainer, its validation and the tests all draw the same corruptions from the same seed. Per image, independently:
//   - with probability pClean nothing at all (so the net learns to leave a clean picture alone: retrain's
//     --denoise runs it on every upload, noisy or not);
//   - otherwise additive Gaussian noise with σ ~ U[0, maxSigma] per image, and with probability pSaltPepper a
//     fraction ~ U[0, maxSaltPepper] of pixels (all channels) set to black or white.
// NOTE: no JPEG blocking or blur: both need a codec or a kernel per step on the trainer's hot path; the net has
// not seen them and will leave them mostly as they are.
import * as tf from "@tensorflow/tfjs";

export interface CorruptionConfig {
  pClean: number;
  /** Largest per-image Gaussian σ, in [0, 1] pixel units (0.15 ≈ 38 grey levels). */
  maxSigma: number;
  pSaltPepper: number;
  /** Largest fraction of pixels an image's salt-and-pepper hits. */
  maxSaltPepper: number;
}

export const DEFAULT_CORRUPTION: Readonly<CorruptionConfig> = Object.freeze({
  pClean: 0.2,
  maxSigma: 0.15,
  pSaltPepper: 0.5,
  maxSaltPepper: 0.05,
});

export function validateCorruption(c: CorruptionConfig): CorruptionConfig {
  const unit = (v: number) => Number.isFinite(v) && v >= 0 && v <= 1;
  if (!unit(c.pClean) || !unit(c.maxSigma) || !unit(c.pSaltPepper) || !unit(c.maxSaltPepper))
    throw new Error(`invalid corruption: every field must be a number in [0, 1], got ${JSON.stringify(c)}`);
  return c;
}

/** x̃ ~ q(x̃|x) for images [B, H, W, C] in [0, 1], clipped to [0, 1]; the same seed gives the same corruption. */
export function corrupt(images: tf.Tensor4D, c: CorruptionConfig, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, ch] = images.shape;
    const u = (shape: number[], k: number) => tf.randomUniform(shape, 0, 1, "float32", (seed + k * 0x9e3779b9) >>> 0);
    const corrupted = tf.cast(tf.greaterEqual(u([b, 1, 1, 1], 1), c.pClean), "float32"); // [B, 1, 1, 1]: 1 = noisy
    const sigma = tf.mul(tf.mul(u([b, 1, 1, 1], 2), c.maxSigma), corrupted); // [B, 1, 1, 1]
    const noisy = tf.add(images, tf.mul(tf.randomNormal([b, h, w, ch], 0, 1, "float32", (seed + 3 * 0x9e3779b9) >>> 0), sigma));
    // Salt and pepper: a pixel is hit with probability rate (per image), then set to 0 or 1 in every channel.
    const sp = tf.mul(tf.cast(tf.less(u([b, 1, 1, 1], 4), c.pSaltPepper), "float32"), corrupted); // [B, 1, 1, 1]
    const rate = tf.mul(tf.mul(u([b, 1, 1, 1], 5), c.maxSaltPepper), sp); // [B, 1, 1, 1]
    const hit = tf.cast(tf.less(u([b, h, w, 1], 6), rate), "float32"); // [B, H, W, 1]
    const salt = tf.cast(tf.less(u([b, h, w, 1], 7), 0.5), "float32"); // [B, H, W, 1]: white or black
    const out = tf.add(tf.mul(noisy, tf.sub(1, hit)), tf.mul(hit, salt)); // [B, H, W, C]
    return tf.clipByValue(out, 0, 1) as tf.Tensor4D;
  });
}
