// Configuration of Tessera's Real-NVP (Dinh, Sohl-Dickstein & Bengio 2017, "Density estimation using Real NVP"):
// a multi-scale stack of affine coupling layers on dequantised, logit-transformed pixels. Not a generator of the
// app: it scores how typical an image is of the training data (bits/dim under an exact likelihood).

export interface FlowConfig {
  /** Square input images, in pixels. */
  imageSize: number;
  channels: number;
  /**
   * L: scales (§3.6). Every scale but the last is 3 checkerboard couplings, a squeeze (2×2 space-to-depth), 3
   * channel-wise couplings, then half the channels factored out to the prior; the last scale is 4 checkerboard
   * couplings. 1 = the last scale only (no squeeze, no channel couplings).
   */
  scales: number;
  /** Width of the coupling networks (s, t), one per scale, highest resolution first. */
  hidden: number[];
  /** Residual blocks in each coupling network (§3.6: "deep convolutional residual networks"). */
  resBlocks: number;
  /** α of the logit transform logit(α + (1 − 2α)·y) (§4.1: α = 0.05), which keeps the logit off ±∞ at 0 and 1. */
  alpha: number;
}

export const DEFAULT_FLOW_CONFIG: Readonly<FlowConfig> = Object.freeze({
  imageSize: 32,
  channels: 3,
  scales: 2,
  // The 32×32 couplings are the expensive ones (4× the pixels of 16×16): narrow there, wider after the squeeze.
  hidden: [32, 64],
  resBlocks: 1,
  alpha: 0.05,
} satisfies FlowConfig);

/** Checkerboard couplings per scale before the squeeze, and on the last scale (§3.6). */
export const CHECKERBOARD_COUPLINGS = 3;
export const CHANNEL_COUPLINGS = 3;
export const FINAL_CHECKERBOARD_COUPLINGS = 4;

/** D: dimensions of one image (H·W·C), the denominator of bits/dim. */
export function flowDims(c: Pick<FlowConfig, "imageSize" | "channels">): number {
  return c.imageSize * c.imageSize * c.channels;
}

export function validateFlowConfig(c: FlowConfig): FlowConfig {
  const problems: string[] = [];
  if (!(Number.isInteger(c.scales) && c.scales >= 1)) problems.push(`scales must be an integer ≥ 1, got ${c.scales}`);
  const finalSide = c.imageSize / 2 ** (c.scales - 1);
  if (!(Number.isInteger(finalSide) && finalSide >= 2))
    problems.push(`imageSize ${c.imageSize} must halve ${c.scales - 1} time(s) to a side ≥ 2 (the last scale's checkerboard)`);
  if (!(Number.isInteger(c.channels) && c.channels >= 1)) problems.push("channels must be an integer ≥ 1");
  if (!Array.isArray(c.hidden) || c.hidden.length !== c.scales || c.hidden.some((w) => !(Number.isInteger(w) && w >= 1)))
    problems.push(`hidden needs ${c.scales} positive integer width(s), one per scale`);
  if (!(Number.isInteger(c.resBlocks) && c.resBlocks >= 0)) problems.push("resBlocks must be an integer ≥ 0");
  if (!(c.alpha > 0 && c.alpha < 0.5)) problems.push(`alpha must be in (0, 0.5), got ${c.alpha}`);
  if (problems.length) throw new Error(`invalid flow config: ${problems.join("; ")}`);
  return c;
}
