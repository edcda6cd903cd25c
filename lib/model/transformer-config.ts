// Configuration of DALL·E's second stage (Ramesh et al. 2021): a decoder-only transformer over the sequence
// [text tokens (T_text, padded); image codes (h·w)] that learns p(text, image) autoregressively.
export interface TransformerConfig {
  /** BPE vocabulary size, special tokens included. */
  textVocab: number;
  /** T_text: text positions (prompts are padded or truncated to this). */
  textLen: number;
  /** Token id of <pad>; each padded position gets its own learned id (textVocab + position), as in DALLE-pytorch. */
  padId: number;
  /** K: image tokenizer codebook size. */
  imageVocab: number;
  /** h = w: side of the image code grid. */
  imageGrid: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  dropout: number;
  /** Loss weight of the image tokens relative to the text tokens (DALL·E: 7, i.e. (1·text + 7·image) / 8). */
  imageLossWeight: number;
}

export const DEFAULT_TRANSFORMER_CONFIG: Readonly<TransformerConfig> = Object.freeze({
  textVocab: 2048,
  textLen: 24,
  padId: 0,
  imageVocab: 512,
  imageGrid: 8,
  nLayer: 4,
  nHead: 4,
  nEmbd: 256,
  dropout: 0.1,
  imageLossWeight: 7,
} satisfies TransformerConfig);

/** Number of image tokens, h·w. */
export const imageTokens = (c: TransformerConfig) => c.imageGrid * c.imageGrid;

export function validateTransformerConfig(c: TransformerConfig): TransformerConfig {
  const problems: string[] = [];
  if (c.nEmbd % c.nHead) problems.push(`nEmbd ${c.nEmbd} is not divisible by nHead ${c.nHead}`);
  for (const k of ["textVocab", "textLen", "imageVocab", "imageGrid", "nLayer", "nHead", "nEmbd"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) problems.push(`${k} must be a positive integer`);
  }
  if (c.textLen < 2) problems.push("textLen must be ≥ 2");
  if (!(c.dropout >= 0 && c.dropout < 1)) problems.push("dropout must be in [0, 1)");
  if (problems.length) throw new Error(`invalid transformer config: ${problems.join("; ")}`);
  return c;
}
