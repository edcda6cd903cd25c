// The contract every discrete bottleneck fulfils, so the VQ model, the trainer and the server treat a VQ-VAE
// and a Gumbel dVAE alike (the same idea as taming-transformers' quantizers returning one tuple shape).
import type * as tf from "@tensorflow/tfjs";

export interface QuantizeOptions {
  training: boolean;
  /** dVAE: Gumbel-softmax temperature τ (annealed by the trainer). */
  temperature?: number;
  /** dVAE: weight of the per-sample KL(q(z|x) ‖ uniform) (warmed up by the trainer). */
  klWeight?: number;
  /** dVAE: scale of the Gumbel noise (1: decode a sample of q(z|x); 0: its argmax, as served); annealed by the trainer. */
  noiseScale?: number;
  /** dVAE: seed of this call's Gumbel noise (a data-parallel trainer gives each replica its own); default: an internal stream. */
  noiseSeed?: number;
}

export interface QuantizeResult {
  /** [B, h, w, D]: what the decoder reads. */
  zQ: tf.Tensor4D;
  /** [B, h, w] int32: the image tokens. */
  codes: tf.Tensor3D;
  /** The quantizer's weighted loss term, added to the reconstruction loss. */
  loss: tf.Scalar;
  /** Unweighted parts of the loss, for logging (commitment, codebook, kl, …). */
  logs: Record<string, tf.Scalar>;
}

export interface Quantizer {
  readonly kind: "vq" | "gumbel" | "none";
  /** Channels the encoder must produce: D for a VQ-VAE (z_e), K for a dVAE (logits). */
  readonly inputDim: number;
  quantize(zE: tf.Tensor4D, options: QuantizeOptions): QuantizeResult;
  /** Codes [B, h, w] → decoder input [B, h, w, D]. */
  embed(codes: tf.Tensor3D): tf.Tensor4D;
  /** Updates that are not gradient steps (EMA codebook, dead-code restarts); called after each optimizer step. */
  update(zE: tf.Tensor4D, codes: tf.Tensor3D): Promise<void>;
}
