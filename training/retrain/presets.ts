// Named sizes for `npm run retrain --preset`: budgets and model shapes (presets live in training scripts only).
import type { ClipConfig } from "../../lib/model/clip-config";
import type { TransformerConfig } from "../../lib/model/transformer-config";
import type { VQConfig } from "../../lib/model/vq-config";
import { CLIP_PRESETS } from "../clip/presets";

export type Preset = "tiny" | "default" | "large";

interface StageBudget<C> {
  config: Partial<C>;
  batchSize: number;
  /** Step cap; the minutes budget usually ends the stage first. */
  steps: number;
  minutes: number;
  checkpointEvery: number;
}

export const PRESETS: Record<
  Preset,
  { size: number; vq: StageBudget<VQConfig>; gpt: StageBudget<TransformerConfig>; clip: StageBudget<ClipConfig> }
> = {
  /** Seconds-scale: for tests and a quick look at a new data folder. */
  tiny: {
    size: 32,
    vq: {
      config: { encoderWidths: [16, 32], decoderWidths: [16, 32], outputWidth: 16, codebookSize: 64, embedDim: 16 },
      batchSize: 32,
      steps: 40,
      minutes: 0,
      checkpointEvery: 20,
    },
    gpt: { config: { nLayer: 2, nHead: 2, nEmbd: 64, dropout: 0 }, batchSize: 16, steps: 40, minutes: 0, checkpointEvery: 20 },
    clip: { config: CLIP_PRESETS.tiny, batchSize: 32, steps: 40, minutes: 0, checkpointEvery: 20 },
  },
  default: {
    size: 32,
    vq: { config: {}, batchSize: 64, steps: 1_000_000, minutes: 40, checkpointEvery: 500 },
    gpt: { config: { dropout: 0 }, batchSize: 32, steps: 1_000_000, minutes: 60, checkpointEvery: 200 },
    // The shipped CLIP's shape and budget (models/default/clip: 20 minutes at batch 256).
    clip: { config: CLIP_PRESETS.default, batchSize: 256, steps: 1_000_000, minutes: 20, checkpointEvery: 500 },
  },
  large: {
    size: 32,
    vq: { config: { decoderWidths: [64, 160] }, batchSize: 64, steps: 1_000_000, minutes: 120, checkpointEvery: 500 },
    gpt: {
      config: { nLayer: 6, nEmbd: 320, nHead: 5, dropout: 0.05 },
      batchSize: 32,
      steps: 1_000_000,
      minutes: 240,
      checkpointEvery: 200,
    },
    clip: { config: CLIP_PRESETS.large, batchSize: 256, steps: 1_000_000, minutes: 60, checkpointEvery: 500 },
  },
};
