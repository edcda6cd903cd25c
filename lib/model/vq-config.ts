// Configuration of the image tokenizers (DALL·E's first stage): a conv encoder/decoder around a discrete
// bottleneck, either a VQ-VAE (van den Oord et al. 2017) or a Gumbel-softmax dVAE (Ramesh et al. 2021).
export interface VQConfig {
  kind: "vqvae" | "dvae";
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
  /** dVAE: straight-through hard one-hot samples in the forward pass. */
  hardGumbel: boolean;
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
  codebookSize: 512,
  embedDim: 64,
  beta: 0.25,
  ema: true,
  emaDecay: 0.99,
  deadCodeThreshold: 0.05,
  hardGumbel: false,
} satisfies VQConfig);

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
  if (!(c.emaDecay > 0 && c.emaDecay < 1)) problems.push("emaDecay must be in (0, 1)");
  if (problems.length) throw new Error(`invalid VQ config: ${problems.join("; ")}`);
  return c;
}
