// Configuration of the lab's denoising autoencoder (Vincent et al. 2008): a conv encoder down to a spatial code and a
// conv decoder back, trained to undo a seeded corruption (./dae-corruption.ts). Built from the image tokenizers'
// blocks (lib/model/layers.ts), so it runs at the same speed per FLOP on wasm.
import type { Padding } from "./layers";

export interface DAEConfig {
  kind: "dae";
  /** Square input images, in pixels (a multiple of 2^widths.length). */
  imageSize: number;
  channels: number;
  /** Encoder width after each space-to-depth halving, highest resolution first; the decoder mirrors them. */
  widths: number[];
  /** Residual blocks per stage (encoder and decoder each). */
  resBlocks: number;
  padding: Padding;
}

export const DEFAULT_DAE_CONFIG: Readonly<DAEConfig> = Object.freeze({
  kind: "dae",
  imageSize: 32,
  channels: 3,
  // 32×32×3 → 16×16×48 → 8×8×96: a code of 6,144 numbers for 3,072 pixel values. An overcomplete code is what
  // Vincent et al. use: the corruption, not a bottleneck, is what stops the net from learning the identity.
  widths: [48, 96],
  resBlocks: 2,
  padding: "edge",
} satisfies DAEConfig);

export function daeConfigFromManifest(config: Record<string, unknown>): DAEConfig {
  return validateDAEConfig({ ...DEFAULT_DAE_CONFIG, ...config } as DAEConfig);
}

export function validateDAEConfig(c: DAEConfig): DAEConfig {
  const problems: string[] = [];
  if (c.kind !== "dae") problems.push(`kind must be "dae", got ${String(c.kind)}`);
  if (!(Number.isInteger(c.channels) && c.channels >= 1)) problems.push("channels must be an integer ≥ 1");
  if (!c.widths.length || c.widths.some((w) => !(Number.isInteger(w) && w > 0)))
    problems.push("widths must be positive integers (≥ 1 stage)");
  else if (!(Number.isInteger(c.imageSize / 2 ** c.widths.length) && c.imageSize >= 2 ** c.widths.length))
    problems.push(`imageSize ${c.imageSize} is not divisible by 2^${c.widths.length} (one halving per width)`);
  if (!(Number.isInteger(c.resBlocks) && c.resBlocks >= 0)) problems.push("resBlocks must be an integer ≥ 0");
  if (c.padding !== "zero" && c.padding !== "edge") problems.push(`padding must be "zero" or "edge", got ${String(c.padding)}`);
  if (problems.length) throw new Error(`invalid DAE config: ${problems.join("; ")}`);
  return c;
}
