// Image-quality and code-usage metrics shared by training, evaluation and serving, so every number in a report is
// computed one way. Images are float32 [B, H, W, C] in [0, 1]; every tensor op runs inside tf.tidy.
import * as tf from "@tensorflow/tfjs";

/** Mean squared error over every element of the batch. */
export function batchMse(x: tf.Tensor4D, y: tf.Tensor4D): tf.Scalar {
  assertSameShape(x, y);
  return tf.tidy(() => tf.mean(tf.squaredDifference(x, y)) as tf.Scalar);
}

/** 10·log10(peak² / mse) in dB; Infinity for a perfect reconstruction. */
export function psnrFromMse(mse: number, peak = 1): number {
  if (!(mse >= 0)) throw new RangeError(`mse must be a non-negative number, got ${mse}`);
  return 10 * Math.log10((peak * peak) / mse);
}

export interface SsimOptions {
  /**
   * Side of the square gaussian window, odd. Default 11 with σ = 1.5, as in Wang et al. (2004), so our numbers are
   * comparable with published ones; on 32×32 images the 'valid' SSIM map is then 22×22, which is still plenty.
   */
  windowSize?: number;
  sigma?: number;
  /** Dynamic range of the values (1 for images in [0, 1]); C1 = (0.01·peak)², C2 = (0.03·peak)². */
  peak?: number;
}

/** Normalised 1-D gaussian taps; the 2-D window is their outer product (separable). */
export function gaussianWindow(size: number, sigma: number): Float32Array {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0)
    throw new RangeError(`SSIM window size must be a positive odd integer, got ${size}`);
  if (!(sigma > 0)) throw new RangeError(`SSIM sigma must be positive, got ${sigma}`);
  const half = (size - 1) / 2;
  const taps = Array.from({ length: size }, (_, i) => Math.exp(-((i - half) ** 2) / (2 * sigma * sigma)));
  const sum = taps.reduce((a, b) => a + b, 0);
  return Float32Array.from(taps, (t) => t / sum);
}

/**
 * Mean SSIM of the batch: local statistics under a gaussian window at every 'valid' position (no padding, as in
 * the reference implementation), computed per channel, then averaged over positions, channels and images (all
 * images and channels have the same number of positions, so this is also the mean of per-image SSIMs).
 */
export function batchSsim(x: tf.Tensor4D, y: tf.Tensor4D, options: SsimOptions = {}): tf.Scalar {
  assertSameShape(x, y);
  const { windowSize = 11, sigma = 1.5, peak = 1 } = options;
  const [, h, w, c] = x.shape;
  if (h < windowSize || w < windowSize)
    throw new RangeError(`SSIM window ${windowSize}×${windowSize} does not fit images of ${h}×${w}; pass a smaller windowSize`);
  const g = gaussianWindow(windowSize, sigma);
  const c1 = (0.01 * peak) ** 2;
  const c2 = (0.03 * peak) ** 2;
  return tf.tidy(() => {
    // The five local moments for all channels in one depthwise pass: [x, y, x², y², xy] stacked on channels.
    const stacked = tf.concat([x, y, tf.square(x), tf.square(y), tf.mul(x, y)], 3) as tf.Tensor4D;
    const k = 5 * c;
    const taps = tf.tensor1d(g);
    const rowFilter = tf.tile(taps.reshape([windowSize, 1, 1, 1]), [1, 1, k, 1]) as tf.Tensor4D;
    const colFilter = tf.tile(taps.reshape([1, windowSize, 1, 1]), [1, 1, k, 1]) as tf.Tensor4D;
    const blurred = tf.depthwiseConv2d(tf.depthwiseConv2d(stacked, rowFilter, 1, "valid"), colFilter, 1, "valid");
    const [mx, my, exx, eyy, exy] = tf.split(blurred, 5, 3);
    const mxy = tf.mul(mx, my);
    const mx2 = tf.square(mx);
    const my2 = tf.square(my);
    const num = tf.mul(tf.add(tf.mul(mxy, 2), c1), tf.add(tf.mul(tf.sub(exy, mxy), 2), c2));
    const den = tf.mul(tf.add(tf.add(mx2, my2), c1), tf.add(tf.add(tf.sub(exx, mx2), tf.sub(eyy, my2)), c2));
    return tf.mean(tf.div(num, den)) as tf.Scalar;
  });
}

/**
 * Sum over the batch of each image's mean gradient magnitude √(∂x² + ∂y²) (forward differences on the
 * (H−1)×(W−1) grid, averaged over channels). Recon / real of this is a sharpness ratio: blur lowers it below 1.
 */
export function batchGradientMagnitude(x: tf.Tensor4D): number {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const inner = tf.slice(x, [0, 0, 0, 0], [b, h - 1, w - 1, c]);
    const dx = tf.sub(tf.slice(x, [0, 0, 1, 0], [b, h - 1, w - 1, c]), inner);
    const dy = tf.sub(tf.slice(x, [0, 1, 0, 0], [b, h - 1, w - 1, c]), inner);
    const mag = tf.sqrt(tf.add(tf.square(dx), tf.square(dy))); // [B, H-1, W-1, C]
    return tf.sum(tf.mean(mag, [1, 2, 3])).dataSync()[0];
  });
}

/** Both metrics of one batch as plain numbers (one sync each). */
export function batchMetrics(x: tf.Tensor4D, y: tf.Tensor4D, options?: SsimOptions): { mse: number; ssim: number } {
  const mse = batchMse(x, y);
  const ssim = batchSsim(x, y, options);
  try {
    return { mse: mse.dataSync()[0], ssim: ssim.dataSync()[0] };
  } finally {
    mse.dispose();
    ssim.dispose();
  }
}

/**
 * Averages per-batch metrics over a split, weighting each batch by its size, so a short last batch counts for
 * what it holds. PSNR is the PSNR of the mean MSE over the split (not the mean of per-batch PSNRs), the
 * convention that does not reward a few near-perfect images with huge dB values.
 */
export class MetricAccumulator {
  private images = 0;
  private mseSum = 0;
  private ssimSum = 0;

  add(batchSize: number, mse: number, ssim: number): void {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isFinite(mse) || !Number.isFinite(ssim)) throw new RangeError(`metrics must be finite (mse ${mse}, ssim ${ssim})`);
    this.images += batchSize;
    this.mseSum += batchSize * mse;
    this.ssimSum += batchSize * ssim;
  }

  get count(): number {
    return this.images;
  }

  mse(): number {
    return this.images ? this.mseSum / this.images : NaN;
  }

  /** PSNR of the mean MSE over everything added. */
  psnr(peak = 1): number {
    return this.images ? psnrFromMse(this.mse(), peak) : NaN;
  }

  ssim(): number {
    return this.images ? this.ssimSum / this.images : NaN;
  }

  summary(): { count: number; mse: number; psnr: number; ssim: number } {
    return { count: this.images, mse: this.mse(), psnr: this.psnr(), ssim: this.ssim() };
  }
}

/** Histogram of discrete image codes: how much of a codebook is used, and how evenly (to spot collapse). */
export class CodeStats {
  private readonly counts: Float64Array;
  private total = 0;

  constructor(readonly codebookSize: number) {
    if (!Number.isInteger(codebookSize) || codebookSize < 1)
      throw new RangeError(`codebookSize must be a positive integer, got ${codebookSize}`);
    this.counts = new Float64Array(codebookSize);
  }

  add(codes: ArrayLike<number>): void {
    for (let i = 0; i < codes.length; i++) {
      const code = codes[i];
      if (!Number.isInteger(code) || code < 0 || code >= this.codebookSize)
        throw new RangeError(`code ${code} is outside 0..${this.codebookSize - 1}`);
      this.counts[code]++;
    }
    this.total += codes.length;
  }

  get count(): number {
    return this.total;
  }

  histogram(): Float64Array {
    return this.counts.slice();
  }

  /** Fraction of the K codes seen at least once. */
  usage(): number {
    let used = 0;
    for (const n of this.counts) if (n > 0) used++;
    return used / this.codebookSize;
  }

  /** exp(entropy) of the code histogram: the number of equally used codes with the same entropy (1..K). */
  perplexity(): number {
    if (!this.total) return NaN;
    let entropy = 0;
    for (const n of this.counts) {
      if (n > 0) {
        const p = n / this.total;
        entropy -= p * Math.log(p);
      }
    }
    return Math.exp(entropy);
  }

  /** Bits to store one image's h×w grid of codes at a fixed log2 K bits each (the upper bound, no entropy coding). */
  bitsPerImage(h: number, w: number): number {
    return h * w * Math.log2(this.codebookSize);
  }
}

function assertSameShape(x: tf.Tensor, y: tf.Tensor): void {
  if (x.rank !== 4 || y.rank !== 4 || x.shape.some((d, i) => d !== y.shape[i])) {
    throw new Error(`metrics need two [B, H, W, C] tensors of the same shape, got [${x.shape}] and [${y.shape}]`);
  }
}
