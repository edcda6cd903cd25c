// dVAE bottleneck (Ramesh et al. 2021, "Zero-Shot Text-to-Image Generation"; Jang et al. 2017, Maddison et al.
// 2017): the encoder outputs logits over the K codes at each position; training decodes a Gumbel-softmax sample
// y = softmax((logits + g) / τ), a relaxed one-hot that becomes discrete as τ → 0; a KL term pulls q(z|x) towards
// the uniform prior the transformer's prior starts from, and a batch-level usage term keeps the whole codebook
// in use. Inference takes the argmax. Training decodes the soft sample (DALL·E's relaxation, the default: as τ is
// annealed towards 1/16 it approaches the one-hot inference decodes), or with `hardGumbel` the one-hot of the sample
// with the soft sample's gradient (straight-through), so the decoder never reads information hidden in mixture
// weights that the argmax then throws away — which measured 1.4–2 dB worse at 850 steps (training/vq/task.ts).
import * as tf from "@tensorflow/tfjs";
import { oneHotFloat } from "../tensor/gradients";
import { straightThrough } from "./layers";
import type { ParamStore } from "./params";
import type { QuantizeOptions, QuantizeResult, Quantizer } from "./quantizer";
import type { VQConfig } from "./vq-config";

/** Keeps log() away from 0 in the Gumbel noise. */
const TINY = 1e-10;

/**
 * Gumbel-softmax sample over the last axis; `hard` returns one-hots with the soft sample's gradient. `noiseScale`
 * multiplies the Gumbel noise: 1 samples from softmax(logits), 0 takes its argmax (what serving decodes).
 */
export function gumbelSoftmax(logits: tf.Tensor2D, temperature: number, hard: boolean, seed: number, noiseScale = 1): tf.Tensor2D {
  return tf.tidy(() => {
    const u = tf.randomUniform(logits.shape, 0, 1, "float32", seed);
    const g = tf.mul(tf.neg(tf.log(tf.add(tf.neg(tf.log(tf.add(u, TINY))), TINY))), noiseScale); // noiseScale · Gumbel(0, 1)
    const y = tf.softmax(tf.div(tf.add(logits, g), temperature)) as tf.Tensor2D;
    if (!hard) return y;
    const onehot = oneHotFloat(tf.argMax(y, 1), logits.shape[1]) as tf.Tensor2D;
    return straightThrough(y, onehot);
  });
}

/** Mean over rows of KL(softmax(logits) ‖ uniform over K) = Σ q log q + log K. */
export function klToUniform(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logQ = tf.logSoftmax(logits);
    const negEntropy = tf.sum(tf.mul(tf.exp(logQ), logQ), 1);
    return tf.mean(tf.add(negEntropy, Math.log(logits.shape[1]))) as tf.Scalar;
  });
}

/** KL(q̄ ‖ uniform) = Σ q̄ log q̄ + log K, q̄ the mean of softmax(logits) over the rows: 0 when the batch as a whole uses every code equally. */
export function batchKlToUniform(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const qBar = tf.mean(tf.softmax(logits), 0); // [K]
    const negEntropy = tf.sum(tf.mul(qBar, tf.log(tf.add(qBar, TINY))));
    return tf.add(negEntropy, Math.log(logits.shape[1])) as tf.Scalar;
  });
}

export class GumbelQuantizer implements Quantizer {
  readonly kind = "gumbel";
  readonly inputDim: number;
  private readonly embedding: tf.Variable;
  private seed: number;

  constructor(
    store: ParamStore,
    private readonly c: VQConfig,
  ) {
    this.inputDim = c.codebookSize;
    this.embedding = store.add("gumbel.embedding", tf.randomNormal([c.codebookSize, c.embedDim], 0, 1, "float32", store.seed()));
    this.seed = store.seed();
  }

  quantize(logits4: tf.Tensor4D, options: QuantizeOptions): QuantizeResult {
    return tf.tidy(() => {
      const [b, h, w, k] = logits4.shape;
      const logits = tf.reshape(logits4, [b * h * w, k]) as tf.Tensor2D; // [N, K]
      const codes = tf.argMax(logits, 1) as tf.Tensor1D; // [N]
      let y: tf.Tensor2D;
      if (options.training) {
        this.seed = (Math.imul(this.seed, 1664525) + 1013904223) >>> 0;
        y = gumbelSoftmax(logits, options.temperature ?? 1, this.c.hardGumbel, options.noiseSeed ?? this.seed, options.noiseScale ?? 1);
      } else {
        y = oneHotFloat(codes, k) as tf.Tensor2D;
      }
      const zq = tf.matMul(y, this.embedding as unknown as tf.Tensor2D); // [N, D]
      const kl = klToUniform(logits);
      const batchKl = batchKlToUniform(logits);
      return {
        zQ: tf.reshape(zq, [b, h, w, this.c.embedDim]) as tf.Tensor4D, // [B, h, w, D]
        codes: tf.reshape(codes, [b, h, w]) as tf.Tensor3D, // [B, h, w]
        loss: tf.add(tf.mul(kl, options.klWeight ?? 0), tf.mul(batchKl, this.c.usageWeight)) as tf.Scalar,
        logs: { kl, batchKl },
      };
    });
  }

  embed(codes: tf.Tensor3D): tf.Tensor4D {
    return tf.tidy(() => {
      const [b, h, w] = codes.shape;
      const zq = tf.matMul(
        oneHotFloat(tf.reshape(codes, [-1]), this.c.codebookSize) as tf.Tensor2D,
        this.embedding as unknown as tf.Tensor2D,
      );
      return tf.reshape(zq, [b, h, w, this.c.embedDim]) as tf.Tensor4D; // [B, h, w, D]
    });
  }

  async update(): Promise<void> {
    // The dVAE's codebook is an ordinary trained embedding: nothing to do between steps.
  }
}
