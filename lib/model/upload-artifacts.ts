// What an upload really suffers besides sensor noise (issue 31 part 4): JPEG's 8×8 block quantisation and a soft
// focus. Both are pure tensor code, seeded by the caller, so the DAE's corruption (dae-corruption.ts) can draw them
// per step on the trainer's hot path without a codec.
//
// JPEG (ITU-T T.81): RGB → YCbCr (JFIF), chroma averaged over 2×2 (4:2:0 subsampling), each channel cut into 8×8
// blocks, the orthonormal DCT-II of each block divided by the Annex K table scaled to the image's quality (the IJG
// rule) and rounded, then the inverse; the chroma is coded at half size and brought back by bilinear upsampling
// (libjpeg's "fancy" upsampling is a similar triangle filter). No entropy coding: it is lossless anyway.
import * as tf from "@tensorflow/tfjs";

/** Annex K.1 luminance and K.2 chrominance quantisation tables, row-major 8×8. */
const LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA = Array.from({ length: 64 }, (_, i) => {
  const [r, c] = [Math.floor(i / 8), i % 8];
  const top = [17, 18, 24, 47, 18, 21, 26, 66, 24, 26, 56, 99, 47, 66, 99, 99];
  return r < 4 && c < 4 ? top[r * 4 + c] : 99;
});

/** The orthonormal 8-point DCT-II matrix D: coefficients = D · block · Dᵀ. */
function dctMatrix(): number[] {
  const d: number[] = [];
  for (let k = 0; k < 8; k++)
    for (let n = 0; n < 8; n++) d.push((k === 0 ? Math.sqrt(1 / 8) : Math.sqrt(2 / 8)) * Math.cos(((2 * n + 1) * k * Math.PI) / 16));
  return d;
}

/** IJG scaling of a base table to quality q ∈ [1, 100] (50 = the table itself). */
export function qualityScale(q: number): number {
  const qc = Math.min(100, Math.max(1, q));
  return qc < 50 ? 5000 / qc : 200 - 2 * qc;
}

/** M applied along the last axis of x [..., 8, 8], then the last two axes swapped: (x·Mᵀ)ᵀ. */
function rowsThenSwap(x: tf.Tensor, mT: tf.Tensor2D): tf.Tensor {
  const shape = x.shape;
  const y = tf.matMul(tf.reshape(x, [-1, 8]), mT); // [N·8, 8]
  return tf.transpose(tf.reshape(y, shape), [...shape.slice(0, -2).map((_, i) => i), shape.length - 1, shape.length - 2]);
}

/**
 * One channel [B, h, w] through JPEG's lossy core: 8×8 blocks, D·X·Dᵀ, divided by the table `base` scaled per image
 * by `scale` [B] (IJG: floor((base·scale + 50) / 100) in [1, 255]) and rounded, then Dᵀ·C·D.
 */
function codeChannel(x: tf.Tensor3D, base: number[], scale: tf.Tensor1D): tf.Tensor3D {
  const [b, h, w] = x.shape;
  const blocks = tf.transpose(tf.reshape(x, [b, h / 8, 8, w / 8, 8]), [0, 1, 3, 2, 4]); // [B, h/8, w/8, 8, 8]
  const d = tf.tensor2d(dctMatrix(), [8, 8]);
  const dT = tf.transpose(d) as tf.Tensor2D;
  const coef = rowsThenSwap(rowsThenSwap(blocks, dT), dT); // D·X·Dᵀ
  const s = tf.reshape(scale, [b, 1, 1, 1, 1]); // [B, 1, 1, 1, 1]
  const table = tf.clipByValue(tf.floor(tf.div(tf.add(tf.mul(tf.reshape(tf.tensor1d(base), [1, 1, 1, 8, 8]), s), 50), 100)), 1, 255);
  const quantised = tf.mul(tf.round(tf.div(coef, table)), table); // [B, h/8, w/8, 8, 8]
  const back = rowsThenSwap(rowsThenSwap(quantised, d), d); // Dᵀ·C·D
  return tf.reshape(tf.transpose(back, [0, 1, 3, 2, 4]), [b, h, w]) as tf.Tensor3D; // [B, h, w]
}

/**
 * JPEG-compresses and decodes images [B, H, W, 3] in [0, 1] (H, W multiples of 16) at per-image qualities
 * `quality` [B] in [1, 100]; returns the decoded images, clipped to [0, 1].
 */
export function jpegRoundTrip(images: tf.Tensor4D, quality: tf.Tensor1D): tf.Tensor4D {
  const [b, h, w, c] = images.shape;
  if (c !== 3 || h % 16 || w % 16) throw new Error(`jpegRoundTrip takes [B, H, W, 3] with H, W multiples of 16, got [${images.shape}]`);
  return tf.tidy(() => {
    const [r, g, bl] = tf.split(tf.mul(images, 255), 3, 3).map((t) => tf.reshape(t, [b, h, w])); // each [B, H, W]
    const q = tf.clipByValue(quality, 1, 100);
    const scale = tf.where(tf.less(q, 50), tf.div(5000, q), tf.sub(200, tf.mul(q, 2))) as tf.Tensor1D; // IJG, [B]
    // JFIF's Y'CbCr; luma level-shifted by 128 (T.81 A.3.1), chroma already centred on 0.
    const y = tf.sub(tf.addN([tf.mul(r, 0.299), tf.mul(g, 0.587), tf.mul(bl, 0.114)]), 128) as tf.Tensor3D;
    // 4:2:0: chroma averaged over 2×2 and coded at half size, each chroma block covering 16×16 pixels.
    const half = (t: tf.Tensor) =>
      tf.reshape(tf.avgPool(tf.reshape(t, [b, h, w, 1]) as tf.Tensor4D, 2, 2, "valid"), [b, h / 2, w / 2]) as tf.Tensor3D;
    const full = (t: tf.Tensor3D) =>
      tf.reshape(tf.image.resizeBilinear(tf.reshape(t, [b, h / 2, w / 2, 1]) as tf.Tensor4D, [h, w], false, true), [b, h, w]); // [B, H, W]
    const cb = half(tf.addN([tf.mul(r, -0.168736), tf.mul(g, -0.331264), tf.mul(bl, 0.5)]));
    const cr = half(tf.addN([tf.mul(r, 0.5), tf.mul(g, -0.418688), tf.mul(bl, -0.081312)]));
    const y1 = tf.add(codeChannel(y, LUMA, scale), 128);
    const cb1 = full(codeChannel(cb, CHROMA, scale));
    const cr1 = full(codeChannel(cr, CHROMA, scale));
    const rgb = tf.stack(
      [tf.add(y1, tf.mul(cr1, 1.402)), tf.sub(tf.sub(y1, tf.mul(cb1, 0.344136)), tf.mul(cr1, 0.714136)), tf.add(y1, tf.mul(cb1, 1.772))],
      3,
    ); // [B, H, W, 3]
    return tf.clipByValue(tf.div(rgb, 255), 0, 1) as tf.Tensor4D;
  });
}

/**
 * A soft focus of strength α [B] in [0, 1]: x + α·(G∗G∗x − x), G the 3×3 binomial kernel [1 2 1]ᵀ[1 2 1]/16
 * (twice ≈ a Gaussian of σ 1 px), edges replicated (a camera has no black frame).
 */
export function softFocus(images: tf.Tensor4D, alpha: tf.Tensor1D): tf.Tensor4D {
  return tf.tidy(() => {
    const c = images.shape[3];
    const k1 = [1, 2, 1];
    const g = tf.tile(tf.reshape(tf.tensor1d(k1.flatMap((a) => k1.map((v) => (a * v) / 16))), [3, 3, 1, 1]), [1, 1, c, 1]); // [3, 3, C, 1]
    const pass = (t: tf.Tensor4D) =>
      tf.depthwiseConv2d(
        tf.mirrorPad(
          t,
          [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
          "symmetric",
        ),
        g as tf.Tensor4D,
        1,
        "valid",
      );
    const blurred = pass(pass(images));
    const a = tf.reshape(alpha, [-1, 1, 1, 1]); // [B, 1, 1, 1]
    return tf.add(images, tf.mul(a, tf.sub(blurred, images))) as tf.Tensor4D;
  });
}
