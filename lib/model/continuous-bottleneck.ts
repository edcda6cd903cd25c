// No quantisation at all: the decoder reads the encoder's continuous 8×8×D output. Not a tokenizer (there are no
// codes for a transformer to model); a baseline beside PCA in `npm run eval:vq` that shows what the discrete
// bottleneck costs with the very same encoder and decoder.
import * as tf from "@tensorflow/tfjs";
import type { QuantizeOptions, QuantizeResult, Quantizer } from "./quantizer";
import type { VQConfig } from "./vq-config";

export class ContinuousBottleneck implements Quantizer {
  readonly kind = "none";
  readonly inputDim: number;

  constructor(private readonly c: VQConfig) {
    this.inputDim = c.embedDim;
  }

  quantize(zE: tf.Tensor4D, _options: QuantizeOptions): QuantizeResult {
    return tf.tidy(() => {
      const [b, h, w] = zE.shape;
      const zero = tf.scalar(0);
      return {
        zQ: tf.clone(zE), // [B, h, w, D]
        // NOTE: there are no codes; zeros keep the result shape every quantizer returns.
        codes: tf.zeros([b, h, w], "int32") as tf.Tensor3D,
        loss: zero,
        logs: {},
      };
    });
  }

  embed(): tf.Tensor4D {
    throw new Error(`a continuous autoencoder (kind "ae", D = ${this.c.embedDim}) has no codes to embed`);
  }

  async update(): Promise<void> {}
}
