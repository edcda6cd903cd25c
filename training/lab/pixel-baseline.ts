// The baseline every lab density model is reported against: a diagonal Gaussian on pixels, one mean and one
// variance per pixel channel fitted on the training split (the maximum-likelihood fit: the moments of the
// dequantised y = (x + u)/256), scored with the very function the VAE's ELBO uses (lib/model/vae-elbo.ts), so the
// numbers share a convention: nats per image of the discrete 8-bit data, and bits/dim.
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { imageBytes, type Shard } from "../../lib/data/shard";
import { BIN_WIDTH } from "../../lib/model/vae-config";
import { bitsPerDim, dequantizedGaussianNll } from "../../lib/model/vae-elbo";

export interface PixelGaussian {
  /** Per pixel channel (H·W·C, row-major), in [0, 1] units. */
  mean: Float32Array;
  logVar: Float32Array;
}

/**
 * The fit on `train`: mean of the bin centres x̄ = (x + ½)/256, variance Var(x̄) + δ²/12 (the uniform noise's own
 * variance), floored at exp(minLogVar) as the VAE decoder is (on the emoji every pixel channel varies in training,
 * so the floor changes nothing there).
 */
export function fitPixelGaussian(train: Shard, minLogVar: number): PixelGaussian {
  const n = imageBytes(train);
  const sum = new Float64Array(n);
  const sumSq = new Float64Array(n);
  for (let i = 0; i < train.count; i++) {
    const img = train.data.subarray(i * n, (i + 1) * n);
    for (let k = 0; k < n; k++) {
      const v = (img[k] + 0.5) * BIN_WIDTH;
      sum[k] += v;
      sumSq[k] += v * v;
    }
  }
  const mean = new Float32Array(n);
  const logVar = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const m = sum[k] / train.count;
    const variance = Math.max(0, sumSq[k] / train.count - m * m) + (BIN_WIDTH * BIN_WIDTH) / 12;
    mean[k] = m;
    logVar[k] = Math.max(minLogVar, Math.log(variance));
  }
  return { mean, logVar };
}

/** Mean −log P(x) over a split, nats per image and bits/dim, under the fitted diagonal Gaussian. */
export function pixelGaussianNll(fit: PixelGaussian, split: Shard, batchSize = 256): { nats: number; bitsPerDim: number } {
  const shape = [1, split.height, split.width, split.channels] as [number, number, number, number];
  const mean = tf.tensor4d(fit.mean, shape); // [1, H, W, C]
  const logVar = tf.tensor4d(fit.logVar, shape); // [1, H, W, C]
  let total = 0;
  try {
    for (const { images } of sequentialBatches(split, batchSize)) {
      const s = tf.tidy(() => tf.sum(dequantizedGaussianNll(images, mean, logVar)));
      total += s.dataSync()[0];
      tf.dispose([s, images]);
    }
  } finally {
    tf.dispose([mean, logVar]);
  }
  const nats = total / split.count;
  return { nats, bitsPerDim: bitsPerDim(nats, imageBytes(split)) };
}
