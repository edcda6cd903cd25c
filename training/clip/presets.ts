// Named CLIP shapes and the image shift, shared by `npm run train:clip` (training/train-clip.ts) and the retrain
// pipeline's CLIP stage (training/retrain/clip-stage.ts). Presets live in training code, not in the model code.
import type { ClipConfig } from "../../lib/model/clip-config";

export const CLIP_PRESETS = {
  default: {},
  /** Seconds-scale model for smoke runs. */
  tiny: { imageWidths: [8, 16, 32], nLayer: 1, nHead: 2, nEmbd: 32, embedDim: 32 },
  small: { imageWidths: [16, 32, 64], nLayer: 2, nHead: 2, nEmbd: 64, embedDim: 64 },
  large: { imageWidths: [48, 96, 192], nLayer: 3, nHead: 4, nEmbd: 192, embedDim: 128 },
} satisfies Record<string, Partial<ClipConfig>>;

export type ClipPreset = keyof typeof CLIP_PRESETS;

/** Random translation of each training image by up to this many pixels per axis (./augment.ts shiftImage). */
export const DEFAULT_CLIP_SHIFT = 2;
