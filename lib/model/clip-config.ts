// Configuration of Tessera's CLIP (Radford et al. 2021, "Learning Transferable Visual Models From Natural Language
// Supervision"): an image encoder and a text encoder trained jointly so that a caption's embedding lies closest to
// its own image's, in a shared space where cosine similarity scores any (text, image) pair. Scaled down to this
// corpus: 32×32 emoji and short BPE captions, a few minutes of two CPU cores.
export interface ClipConfig {
  /** Square RGB input images in [0, 1], in pixels (the dataset's 32×32 shard). */
  imageSize: number;
  channels: number;
  /**
   * Conv width after each space-to-depth stage, highest resolution first: stage i runs at imageSize / 2^(i+1)
   * (three stages: 16×16, 8×8, 4×4), then global average pooling.
   */
  imageWidths: number[];
  /** Residual blocks per image stage. */
  resBlocks: number;
  /** BPE vocabulary size of the Tessera text tokenizer, special tokens included (one more id is CLIP's [EOS]). */
  textVocab: number;
  /** Text positions: captions are padded or truncated to this (an [EOS] slot follows, so T + 1 positions run). */
  textLen: number;
  /** Token id of <pad> (right padding). */
  padId: number;
  /** Text transformer: layers, heads and width. */
  nLayer: number;
  nHead: number;
  nEmbd: number;
  /** Width of the shared embedding space both encoders project into. */
  embedDim: number;
  /** Initial softmax temperature τ (paper: 0.07, i.e. a logit scale of 1/τ ≈ 14.3). */
  initTemperature: number;
  /** Upper clamp of the logit scale 1/τ (paper: 100, "to prevent training instability"). */
  maxLogitScale: number;
}

export const DEFAULT_CLIP_CONFIG: Readonly<ClipConfig> = Object.freeze({
  imageSize: 32,
  channels: 3,
  imageWidths: [32, 64, 128],
  resBlocks: 1,
  textVocab: 2048,
  textLen: 24,
  padId: 0,
  nLayer: 2,
  nHead: 4,
  nEmbd: 128,
  embedDim: 128,
  initTemperature: 0.07,
  maxLogitScale: 100,
} satisfies ClipConfig);

/** Text positions the encoder runs: the caption's T plus one [EOS] slot (present even for a caption of T tokens). */
export const clipTextPositions = (c: ClipConfig) => c.textLen + 1;

/** Id of CLIP's [EOS] token: the row after the tokenizer's vocabulary (the Tessera tokenizer has none of its own). */
export const clipEosId = (c: ClipConfig) => c.textVocab;

export function validateClipConfig(c: ClipConfig): ClipConfig {
  const problems: string[] = [];
  for (const k of ["imageSize", "channels", "textVocab", "textLen", "nLayer", "nHead", "nEmbd", "embedDim"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer`);
  }
  if (!Number.isInteger(c.resBlocks) || c.resBlocks < 0) problems.push("resBlocks must be an integer ≥ 0");
  if (!Array.isArray(c.imageWidths) || c.imageWidths.length < 1 || c.imageWidths.some((w) => !Number.isInteger(w) || w < 1))
    problems.push("imageWidths must be a non-empty list of positive integers");
  else if (c.imageSize % 2 ** c.imageWidths.length)
    problems.push(`imageSize ${c.imageSize} is not divisible by 2^${c.imageWidths.length} (one halving per image stage)`);
  if (c.nEmbd % c.nHead) problems.push(`nEmbd ${c.nEmbd} is not divisible by nHead ${c.nHead}`);
  if (!Number.isInteger(c.padId) || c.padId < 0 || c.padId >= c.textVocab) problems.push(`padId must be a token id in [0, ${c.textVocab})`);
  if (!(c.initTemperature > 0 && c.initTemperature <= 1)) problems.push("initTemperature must be in (0, 1]");
  if (!(c.maxLogitScale >= 1 / c.initTemperature)) problems.push("maxLogitScale must be ≥ 1 / initTemperature");
  if (problems.length) throw new Error(`invalid CLIP config: ${problems.join("; ")}`);
  return c;
}
