// Configuration of the lab's VAE (Kingma & Welling 2014): a conv encoder to the mean and log-variance of a flat
// latent z, a conv decoder to a per-pixel Gaussian over dequantised pixels. Built from the image tokenizers' blocks
// (lib/model/layers.ts), so it trains at the same speed per FLOP on wasm.
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
}

/** One grey level of 8-bit pixels in [0, 1] units (the width of a dequantisation bin). */
export const BIN_WIDTH = 1 / 256;

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
} satisfies VAEConfig);

export function vaeConfigFromManifest(config: Record<string, unknown>): VAEConfig {
  return validateVAEConfig({ ...DEFAULT_VAE_CONFIG, ...config } as VAEConfig);
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
  if (!(c.initPixelStd > 0 && 2 * Math.log(c.initPixelStd) > c.minLogVar))
    problems.push("initPixelStd must be above the floor exp(minLogVar / 2)");
  if (problems.length) throw new Error(`invalid VAE config: ${problems.join("; ")}`);
  return c;
}
