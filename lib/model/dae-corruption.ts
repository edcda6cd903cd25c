// The corruption q(x̃|x) the denoising autoencoder learns to undo (Vincent et al. 2008 train with additive Gaussian,
// masking and salt-and-pepper noise): what a scanned, photographed or re-compressed upload suffers. Seeded, so the
// trainer, its validation and the tests all draw the same corruptions from the same seed. Per image, independently:
//   - with probability pClean nothing at all (so the net learns to leave a clean picture alone: retrain's
//     --denoise runs it on every upload, noisy or not);
//   - otherwise, in the order an upload meets them: with probability pBlur a soft focus of strength ~ U[0, 1]
//     (a camera out of focus); additive Gaussian noise with σ ~ U[0, maxSigma] (the sensor); with probability
//     pSaltPepper a fraction ~ U[0, maxSaltPepper] of pixels (all channels) set to black or white (dust, dead
//     pixels); with probability pJpeg a JPEG round trip at a quality ~ U[minJpegQuality, maxJpegQuality] (the
//     upload re-compressed: 8×8 blocks, ringing, chroma bled over 2×2) — upload-artifacts.ts, pure tensor code.
import * as tf from "@tensorflow/tfjs";
import { jpegRoundTrip, softFocus } from "./upload-artifacts";

export interface CorruptionConfig {
  pClean: number;
  /** Largest per-image Gaussian σ, in [0, 1] pixel units (0.15 ≈ 38 grey levels). */
  maxSigma: number;
  pSaltPepper: number;
  /** Largest fraction of pixels an image's salt-and-pepper hits. */
  maxSaltPepper: number;
  /** Probability of a soft focus (absent: 0, as checkpoints trained before it). */
  pBlur?: number;
  /** Probability of a JPEG round trip (absent: 0), at a quality drawn from [minJpegQuality, maxJpegQuality] ⊂ [1, 100]. */
  pJpeg?: number;
  minJpegQuality?: number;
  maxJpegQuality?: number;
}

export const DEFAULT_CORRUPTION: Readonly<CorruptionConfig> = Object.freeze({
  pClean: 0.2,
  maxSigma: 0.15,
  pSaltPepper: 0.5,
  maxSaltPepper: 0.05,
  pBlur: 0.3,
  pJpeg: 0.4,
  minJpegQuality: 10,
  maxJpegQuality: 70,
});

export function validateCorruption(c: CorruptionConfig): CorruptionConfig {
  const unit = (v: number) => Number.isFinite(v) && v >= 0 && v <= 1;
  if (!unit(c.pClean) || !unit(c.maxSigma) || !unit(c.pSaltPepper) || !unit(c.maxSaltPepper) || !unit(c.pBlur ?? 0) || !unit(c.pJpeg ?? 0))
    throw new Error(`invalid corruption: every probability and σ must be a number in [0, 1], got ${JSON.stringify(c)}`);
  const [qMin, qMax] = [c.minJpegQuality ?? 1, c.maxJpegQuality ?? 100];
  if (!(Number.isFinite(qMin) && Number.isFinite(qMax) && qMin >= 1 && qMax <= 100 && qMin <= qMax))
    throw new Error(`invalid corruption: JPEG qualities must satisfy 1 ≤ minJpegQuality ≤ maxJpegQuality ≤ 100, got ${qMin}..${qMax}`);
  return c;
}

/** x̃ ~ q(x̃|x) for images [B, H, W, C] in [0, 1], clipped to [0, 1]; the same seed gives the same corruption. */
export function corrupt(images: tf.Tensor4D, c: CorruptionConfig, seed: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, ch] = images.shape;
    const u = (shape: number[], k: number) => tf.randomUniform(shape, 0, 1, "float32", (seed + k * 0x9e3779b9) >>> 0);
    const corrupted = tf.cast(tf.greaterEqual(u([b, 1, 1, 1], 1), c.pClean), "float32"); // [B, 1, 1, 1]: 1 = noisy
    const flat = (t: tf.Tensor) => tf.reshape(t, [b]) as tf.Tensor1D; // [B, 1, 1, 1] → [B]
    // Soft focus: strength 0 for the images not drawn, so one blurred batch serves all.
    const blurOn = tf.mul(tf.cast(tf.less(u([b, 1, 1, 1], 8), c.pBlur ?? 0), "float32"), corrupted); // [B, 1, 1, 1]
    const focused = (c.pBlur ?? 0) > 0 ? softFocus(images, flat(tf.mul(u([b, 1, 1, 1], 9), blurOn))) : images;
    const sigma = tf.mul(tf.mul(u([b, 1, 1, 1], 2), c.maxSigma), corrupted); // [B, 1, 1, 1]
    const noisy = tf.add(focused, tf.mul(tf.randomNormal([b, h, w, ch], 0, 1, "float32", (seed + 3 * 0x9e3779b9) >>> 0), sigma));
    // Salt and pepper: a pixel is hit with probability rate (per image), then set to 0 or 1 in every channel.
    const sp = tf.mul(tf.cast(tf.less(u([b, 1, 1, 1], 4), c.pSaltPepper), "float32"), corrupted); // [B, 1, 1, 1]
    const rate = tf.mul(tf.mul(u([b, 1, 1, 1], 5), c.maxSaltPepper), sp); // [B, 1, 1, 1]
    const hit = tf.cast(tf.less(u([b, h, w, 1], 6), rate), "float32"); // [B, H, W, 1]
    const salt = tf.cast(tf.less(u([b, h, w, 1], 7), 0.5), "float32"); // [B, H, W, 1]: white or black
    const spotted = tf.clipByValue(tf.add(tf.mul(noisy, tf.sub(1, hit)), tf.mul(hit, salt)), 0, 1) as tf.Tensor4D; // [B, H, W, C]
    if (!(c.pJpeg ?? 0)) return spotted;
    // JPEG last, as the upload is compressed after everything else; the images not drawn keep their pixels.
    const jpegOn = tf.mul(tf.cast(tf.less(u([b, 1, 1, 1], 10), c.pJpeg ?? 0), "float32"), corrupted); // [B, 1, 1, 1]
    const [qMin, qMax] = [c.minJpegQuality ?? 1, c.maxJpegQuality ?? 100];
    const quality = flat(tf.add(tf.mul(u([b, 1, 1, 1], 11), qMax - qMin), qMin));
    const jpeg = jpegRoundTrip(spotted, quality);
    return tf.add(spotted, tf.mul(jpegOn, tf.sub(jpeg, spotted))) as tf.Tensor4D;
  });
}
