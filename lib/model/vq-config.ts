// Configuration of the image tokenizers (DALL·E's first stage): a conv encoder/decoder around a discrete
// bottleneck, either a VQ-VAE (van den Oord et al. 2017) or a Gumbel-softmax dVAE (Ramesh et al. 2021); "ae" is
// the same encoder/decoder around a continuous 8×8×D bottleneck, a baseline that shows what quantisation costs.
// (A VQ-GAN is a VQ-VAE trained with an extra adversarial loss: the same config, see training/vq/gan.ts.)
import type { Padding } from "./layers";

export interface VQConfig {
  kind: "vqvae" | "dvae" | "ae";
  /** Square input images, in pixels. */
  imageSize: number;
  channels: number;
  /** f: image side / code-grid side; a power of two (each factor 2 is one space-to-depth stage). */
  downsample: number;
  /** Encoder width after each downsampling stage (length log2 f), highest resolution first. */
  encoderWidths: number[];
  /** Decoder width at each stage (length log2 f), highest resolution first. */
  decoderWidths: number[];
  /** Decoder width at full resolution, before the output convolution. */
  outputWidth: number;
  /** Residual blocks per stage. */
  resBlocks: number;
  /** How 3×3 convs pad the border ("edge" keeps a plain background one code everywhere; see layers.ts). */
  padding: Padding;
  /** K: number of codebook entries. */
  codebookSize: number;
  /** D: dimension of a codebook vector. */
  embedDim: number;
  /** VQ-VAE commitment weight β. */
  beta: number;
  /** VQ-VAE: EMA codebook updates instead of the codebook loss (van den Oord et al. 2017, appendix A.1). */
  ema: boolean;
  emaDecay: number;
  /**
   * VQ-VAE: a code whose EMA cluster size falls below this fraction of the mean cluster size is dead and is
   * restarted from an encoder output of the current batch.
   */
  deadCodeThreshold: number;
  /**
   * VQ-VAE: steps between dead-code checks (1 = every step). With EMA decay 0.99 a code must stay (nearly) unused
   * for ~100s of steps to fall below the threshold, so checking rarely restarts only codes that are really dead,
   * not codes that merely missed a batch.
   */
  restartEvery: number;
  /**
   * dVAE: straight-through hard one-hot samples in the forward pass (the decoder sees what inference gives it)
   * instead of the soft relaxation. Off by default: with τ annealed to 1/16 over the run the soft sample ends as
   * good as one-hot, and training on it is 1.4–2 dB better at 850 steps (training/vq/task.ts DVAE_SCHEDULE).
   */
  hardGumbel: boolean;
  /**
   * dVAE: weight of the batch-level usage term KL(q̄ ‖ uniform), q̄ the mean of q(z|x) over every position of the
   * batch (wav2vec 2.0's diversity loss, Baevski et al. 2020): the per-sample KL to uniform does not stop every
   * image from using the same few codes, this does.
   */
  usageWeight: number;
}

export const DEFAULT_VQ_CONFIG: Readonly<VQConfig> = Object.freeze({
  kind: "vqvae",
  imageSize: 32,
  channels: 3,
  downsample: 4,
  // A lighter encoder than decoder: measured on this 2-core wasm machine, [32, 96] / [48, 128] trains at ~80 img/s
  // (batch 64) where [64, 128] / [64, 128] ran at ~55; the decoder's width buys the most PSNR per FLOP.
  encoderWidths: [32, 96],
  decoderWidths: [48, 128],
  outputWidth: 32,
  resBlocks: 1,
  padding: "edge",
  codebookSize: 512,
  embedDim: 64,
  beta: 0.25,
  ema: true,
  emaDecay: 0.99,
  deadCodeThreshold: 0.05,
  restartEvery: 100,
  hardGumbel: false,
  usageWeight: 0.01,
} satisfies VQConfig);

/**
 * What a manifest written before a field existed meant by it: zero padding, a dead-code check every step, the soft
 * Gumbel relaxation, no usage term. Loading an old tokenizer with today's defaults would change its pictures.
 */
const LEGACY_VQ_FIELDS: Partial<VQConfig> = { padding: "zero", restartEvery: 1, hardGumbel: false, usageWeight: 0 };

export function vqConfigFromManifest(config: Record<string, unknown>): VQConfig {
  return { ...LEGACY_VQ_FIELDS, ...config } as VQConfig;
}

/** Side of the code grid (h = w = imageSize / f). */
export function gridSize(c: VQConfig): number {
  return c.imageSize / c.downsample;
}

export function validateVQConfig(c: VQConfig): VQConfig {
  const stages = Math.log2(c.downsample);
  const problems: string[] = [];
  if (!Number.isInteger(stages) || stages < 1) problems.push(`downsample must be a power of two ≥ 2, got ${c.downsample}`);
  if (c.imageSize % c.downsample) problems.push(`imageSize ${c.imageSize} is not divisible by downsample ${c.downsample}`);
  if (c.encoderWidths.length !== stages || c.decoderWidths.length !== stages)
    problems.push(`encoderWidths and decoderWidths need ${stages} entries (one per stage)`);
  if (c.codebookSize < 2) problems.push("codebookSize must be ≥ 2");
  if (c.padding !== "zero" && c.padding !== "edge") problems.push(`padding must be "zero" or "edge", got ${String(c.padding)}`);
  if (!(Number.isInteger(c.restartEvery) && c.restartEvery >= 1)) problems.push("restartEvery must be an integer ≥ 1");
  if (!(c.usageWeight >= 0)) problems.push("usageWeight must be ≥ 0");
  if (!(c.emaDecay > 0 && c.emaDecay < 1)) problems.push("emaDecay must be in (0, 1)");
  if (problems.length) throw new Error(`invalid VQ config: ${problems.join("; ")}`);
  return c;
}
