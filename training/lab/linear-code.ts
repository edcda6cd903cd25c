// Linear codes of images (x ≈ mean + Σᵢ cᵢ·uᵢ): PCA's and ICA's (./ica.ts) in one form, so that both are scored the
// same way — reconstruction from all k coefficients and from only the m largest of each image — by
// `npm run fit:ica` (training/fit-ica.ts).
import * as tf from "@tensorflow/tfjs";
import { sequentialBatches } from "../../lib/data/batches";
import { imageBytes, type Shard } from "../../lib/data/shard";
import { batchMse, psnrFromMse } from "../../lib/model/metrics";
import { take, type PcaModel } from "../vq/pca";
import { flatten, moments, rowNorm2, transpose, type IcaModel } from "./ica";

/** A linear code x ≈ mean + Σᵢ cᵢ·uᵢ with unit-norm atoms uᵢ and coefficients c = encoder·(x − mean). */
export interface LinearCode {
  mean: Float32Array;
  /** [k, dim] unit-norm rows. */
  atoms: Float32Array;
  /** [k, dim]. */
  encoder: Float32Array;
  k: number;
  dim: number;
}

/** PCA as a linear code: orthonormal components are both the atoms and the encoder. */
export function pcaCode(pca: PcaModel): LinearCode {
  return { mean: pca.mean, atoms: pca.components, encoder: pca.components, k: pca.k, dim: pca.dim };
}

/**
 * ICA as a linear code: atoms aᵢ/‖aᵢ‖, coefficients sᵢ·‖aᵢ‖, so that |cᵢ| is the size of term i in pixels, which is
 * what picking the m largest terms must compare. (The atoms are not orthogonal, so keeping m coefficients is not
 * the best m-term least-squares fit; it is the sparse code ICA gives.)
 */
export function icaCode(ica: IcaModel): LinearCode {
  const { k, dim } = ica;
  const atoms = new Float32Array(k * dim);
  const encoder = new Float32Array(k * dim);
  for (let i = 0; i < k; i++) {
    const norm = Math.sqrt(rowNorm2(ica.components, i, dim));
    for (let d = 0; d < dim; d++) {
      atoms[i * dim + d] = ica.components[i * dim + d] / norm;
      encoder[i * dim + d] = ica.filters[i * dim + d] * norm;
    }
  }
  return { mean: ica.mean, atoms, encoder, k, dim };
}

export interface CodeProjector {
  /** [B, k] coefficients. */
  coefficients(images: tf.Tensor4D): tf.Tensor2D;
  /** From the m largest-|coefficient| terms of each image (default all k), clipped to [0, 1]. */
  reconstruct(images: tf.Tensor4D, m?: number): tf.Tensor4D;
  dispose(): void;
}

export function codeProjector(code: LinearCode): CodeProjector {
  const { k, dim } = code;
  const mean = tf.tensor2d(code.mean, [1, dim]);
  const encoderT = tf.tensor2d(transpose(code.encoder, k, dim), [dim, k]);
  const atoms = tf.tensor2d(code.atoms, [k, dim]);
  const coefficients = (images: tf.Tensor4D) => tf.tidy(() => tf.matMul(flatten(images, dim).sub(mean), encoderT)) as tf.Tensor2D;
  return {
    coefficients,
    reconstruct(images, m = k) {
      if (!Number.isInteger(m) || m < 1 || m > k) throw new RangeError(`m must be an integer in 1..${k}, got ${m}`);
      const [b, h, w, c] = images.shape;
      return tf.tidy(() => {
        let coef = coefficients(images); // [B, k]
        if (m < k) {
          const mag = tf.abs(coef);
          const threshold = tf.topk(mag, m).values.slice([0, m - 1], [b, 1]); // [B, 1]: the m-th largest |c|
          coef = coef.mul(tf.cast(mag.greaterEqual(threshold), "float32"));
        }
        return tf.matMul(coef, atoms).add(mean).clipByValue(0, 1).reshape([b, h, w, c]) as tf.Tensor4D;
      });
    },
    dispose() {
      tf.dispose([mean, encoderT, atoms]);
    },
  };
}

export interface CodeEvaluation {
  /** All k terms. */
  mse: number;
  psnr: number;
  topM: { m: number; mse: number; psnr: number }[];
  /** Excess kurtosis of each coefficient over the split. */
  kurtosis: number[];
}

/** Reconstruction errors (PSNR of the mean MSE) of a code on a split, full and top-m, and coefficient kurtosis. */
export function evaluateCode(code: LinearCode, shard: Shard, ms: number[], batchSize = 256): CodeEvaluation {
  if (imageBytes(shard) !== code.dim) throw new Error(`shard images hold ${imageBytes(shard)} values; the code has dim ${code.dim}`);
  const projector = codeProjector(code);
  const sums = [code.k, ...ms].map(() => 0);
  const coefs = new Float64Array(shard.count * code.k);
  try {
    for (const { images, indices } of sequentialBatches(shard, batchSize)) {
      try {
        [code.k, ...ms].forEach((m, i) => {
          const rec = projector.reconstruct(images, m);
          sums[i] += images.shape[0] * take(batchMse(images, rec))[0];
          rec.dispose();
        });
        coefs.set(take(projector.coefficients(images)), indices[0] * code.k);
      } finally {
        images.dispose();
      }
    }
  } finally {
    projector.dispose();
  }
  const mses = sums.map((s) => s / shard.count);
  return {
    mse: mses[0],
    psnr: psnrFromMse(mses[0]),
    topM: ms.map((m, i) => ({ m, mse: mses[i + 1], psnr: psnrFromMse(mses[i + 1]) })),
    kurtosis: moments(coefs, shard.count, code.k).excessKurtosis,
  };
}
