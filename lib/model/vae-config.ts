// Configuration of the lab's VAE (Kingma & Welling 2014): a conv encoder to the mean and log-variance of a flat
// latent z, a conv decoder to a per-pixel likelihood (a Gaussian over dequantised pixels or a discretised
// logistic). Built from the image tokenizers' blocks (lib/model/layers.ts), so it trains at the same speed per FLOP
// on wasm.
import type { Padding } from "./layers";

export interface VAEConfig {
  kind: "vae";
  /** Square input images, in pixels (a multiple of 2^widths.length). */
  imageSize: number;
  channels: number;
  /**
   * Encoder width after each space-to-depth halving, highest resolution first; the decoder mirrors them. Three
   * stages take 32×32 to a 4×4 grid, which a dense layer turns into (μ, log σ²).
   */
  widths: number[];
  /** Residual blocks per stage. */
  resBlocks: number;
  padding: Padding;
  /**
   * d: the latent is a flat vector, not a grid: samples from the prior N(0, I) and interpolations between two
   * images need the decoder to draw one coherent picture from all of z, which a dense layer gives and independent
   * per-position latents (a 4×4×D grid under a factorised prior) do not.
   */
  latentDim: number;
  /**
   * Floor on the decoder's per-pixel log σ² (ln of a variance in [0, 1] pixel units). ln(δ²/12) = −13.58, the
   * variance of the uniform dequantisation noise itself: E_u[−log N(y; m, σ²)] is smallest at σ² = (x̄ − m)² + δ²/12,
   * never below δ²/12, so the floor costs no optimum and only keeps a confident decoder's gradients finite.
   */
  minLogVar: number;
  /**
   * The decoder's log σ² is minLogVar + softplus(logVarGain · raw + c), c chosen so that raw = 0 gives σ =
   * initPixelStd. Fixed per checkpoint (they change what the weights mean). Gain 1 and σ = 1 at the start measured
   * best in 1-minute smoke runs (tiny preset, 300 steps: 7.56 bits/dim; gain 4 with σ = 0.1 at the start stalled at
   * 8.2, its first steps faster but the mean no longer learning).
   */
  logVarGain: number;
  initPixelStd: number;
  /**
   * The decoder's per-pixel likelihood (./vae-elbo.ts, ./discretized-logistic.ts); fixed per checkpoint, and a
   * manifest without it means "gaussian-learned", the only one before (vaeConfigFromManifest).
   * - "gaussian-learned": N(mean, σ²) on the dequantised pixels, log σ² ≥ minLogVar (the noise's own variance).
   *   The mean's gradient is (m − y)/σ²: once σ is large on the coloured parts (small on the flat backgrounds)
   *   they barely move the mean, and the decoder keeps a brown average there that the variance explains away
   *   (models/default/lab/vae/samples.png).
   * - "gaussian-floored": the same with log σ ≥ ln(minPixelStd), which caps how far the background can outweigh
   *   the colour in that gradient, at (σ_colour/minPixelStd)².
   * - "gaussian-fixed": σ = minPixelStd everywhere (the decoder's spread output unused): every pixel pulls the
   *   mean alike, a scaled squared error plus constants.
   * - "logistic": a discretised logistic per pixel channel over the 256 levels (Salimans et al. 2017), log scale
   *   ≥ minLogScale: a mass per level, the likelihood of the 8-bit data itself. Levels 0 and 255 take the tails,
   *   so the white backgrounds cost a sure decoder ~0 nats without a tiny spread; its mean's gradient is bounded by
   *   1/s per pixel, so a few badly missed pixels do not decide the step.
   */
  likelihood: VAELikelihood;
  /** "gaussian-floored": the floor on the decoder's σ, "gaussian-fixed": σ; in [0, 1] pixel units (1/32: 8 levels). */
  minPixelStd: number;
  /**
   * "logistic": the floor on ln s (s in [0, 1] pixel units). ln(δ/8): a logistic centred on a bin then holds at most
   * 1 − 2σ(−4) = 96 % of its mass there, PixelCNN++'s bound (ln s ≥ −7 on its [−1, 1] scale, s ≥ 0.12 bins) in
   * these units; it keeps a confident decoder's gradients finite.
   */
  minLogScale: number;
}

export type VAELikelihood = "gaussian-learned" | "gaussian-floored" | "gaussian-fixed" | "logistic";
export const VAE_LIKELIHOODS: readonly VAELikelihood[] = ["gaussian-learned", "gaussian-floored", "gaussian-fixed", "logistic"];

/** One grey level of 8-bit pixels in [0, 1] units (the width of a dequantisation bin). */
export const BIN_WIDTH = 1 / 256;

/** ln(π/√3): a logistic of scale s has standard deviation s·π/√3, so ln std = ln s + this. */
export const LOGISTIC_LOG_STD_OFFSET = Math.log(Math.PI / Math.sqrt(3));

export const DEFAULT_VAE_CONFIG: Readonly<VAEConfig> = Object.freeze({
  kind: "vae",
  imageSize: 32,
  channels: 3,
  widths: [32, 64, 128],
  resBlocks: 1,
  padding: "edge",
  latentDim: 128,
  minLogVar: Math.log((BIN_WIDTH * BIN_WIDTH) / 12),
  logVarGain: 1,
  initPixelStd: 1,
  likelihood: "gaussian-learned",
  minPixelStd: 1 / 32,
  minLogScale: Math.log(BIN_WIDTH / 8),
} satisfies VAEConfig);

export function vaeConfigFromManifest(config: Record<string, unknown>): VAEConfig {
  // Checkpoints from before the field trained on the learned Gaussian, whatever the default says now.
  return validateVAEConfig({ ...DEFAULT_VAE_CONFIG, likelihood: "gaussian-learned", ...config } as VAEConfig);
}

/**
 * The floor on the decoder's log σ² for the Gaussian likelihoods: minLogVar, or for "gaussian-floored" (and the
 * value for "gaussian-fixed") the larger of it and ln(minPixelStd²).
 */
export function logVarFloor(c: VAEConfig): number {
  return c.likelihood === "gaussian-floored" || c.likelihood === "gaussian-fixed"
    ? Math.max(c.minLogVar, 2 * Math.log(c.minPixelStd))
    : c.minLogVar;
}

/**
 * The decoder's spread (log σ² for the Gaussians, ln s for the logistic, std = s·π/√3) is floor + softplus(gain·raw
 * + offset): the floor (logVarFloor, or minLogScale) and the offset with floor + softplus(offset) = the spread at a
 * standard deviation of initPixelStd, so raw = 0 decodes to that (softplus⁻¹(y) = y + ln(1 − e^−y)). Shared by the
 * tfjs decoder (./vae.ts) and its training graph (./onnx/vae-training-graph.ts).
 */
export function spreadFloor(c: VAEConfig): { floor: number; offset: number } {
  const logistic = c.likelihood === "logistic";
  const floor = logistic ? c.minLogScale : logVarFloor(c);
  const y = (logistic ? Math.log(c.initPixelStd) - LOGISTIC_LOG_STD_OFFSET : 2 * Math.log(c.initPixelStd)) - floor;
  return { floor, offset: y + Math.log(-Math.expm1(-y)) };
}

/** Side of the grid the encoder ends at (4 for 32×32 and three stages). */
export function bottomSize(c: VAEConfig): number {
  return c.imageSize / 2 ** c.widths.length;
}

/** D: pixel values per image (the "dim" of bits/dim). */
export function pixelDims(c: Pick<VAEConfig, "imageSize" | "channels">): number {
  return c.imageSize * c.imageSize * c.channels;
}

export function validateVAEConfig(c: VAEConfig): VAEConfig {
  const problems: string[] = [];
  if (c.kind !== "vae") problems.push(`kind must be "vae", got ${String(c.kind)}`);
  if (!c.widths.length || c.widths.some((w) => !(Number.isInteger(w) && w > 0)))
    problems.push("widths must be positive integers (≥ 1 stage)");
  else if (!Number.isInteger(bottomSize(c)) || bottomSize(c) < 1)
    problems.push(`imageSize ${c.imageSize} is not divisible by 2^${c.widths.length} (one halving per width)`);
  if (!(Number.isInteger(c.latentDim) && c.latentDim >= 1)) problems.push("latentDim must be an integer ≥ 1");
  if (!(Number.isInteger(c.resBlocks) && c.resBlocks >= 0)) problems.push("resBlocks must be an integer ≥ 0");
  if (c.padding !== "zero" && c.padding !== "edge") problems.push(`padding must be "zero" or "edge", got ${String(c.padding)}`);
  if (!(Number.isFinite(c.minLogVar) && c.minLogVar < 0)) problems.push("minLogVar must be a negative number");
  if (!(c.logVarGain > 0)) problems.push("logVarGain must be > 0");
  if (!VAE_LIKELIHOODS.includes(c.likelihood))
    problems.push(`likelihood must be one of ${VAE_LIKELIHOODS.join(", ")}, got ${String(c.likelihood)}`);
  if (!(c.minPixelStd > 0 && c.minPixelStd < 1)) problems.push("minPixelStd must be in (0, 1)");
  if (!(Number.isFinite(c.minLogScale) && c.minLogScale < 0)) problems.push("minLogScale must be a negative number");
  // The starting spread must clear the floor it is softly floored at ("gaussian-fixed" learns none).
  const startAboveFloor =
    c.likelihood === "gaussian-fixed" ||
    (c.likelihood === "logistic"
      ? Math.log(c.initPixelStd) - LOGISTIC_LOG_STD_OFFSET > c.minLogScale
      : 2 * Math.log(c.initPixelStd) > logVarFloor(c));
  if (!(c.initPixelStd > 0 && startAboveFloor)) problems.push("initPixelStd must be above the likelihood's floor");
  if (problems.length) throw new Error(`invalid VAE config: ${problems.join("; ")}`);
  return c;
}
