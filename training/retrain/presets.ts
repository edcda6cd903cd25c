// Named sizes for `npm run retrain --preset`: budgets and model shapes (presets live in training scripts only).
import type { TransformerConfig } from "../../lib/model/transformer-config";
import type { VQConfig } from "../../lib/model/vq-config";

export type Preset = "tiny" | "default" | "large";

interface StageBudget<C> {
  config: Partial<C>;
  batchSize: number;
  /** Step cap; the minutes budget usually ends the stage first. */
  steps: number;
  minutes: number;
  checkpointEvery: number;
}

export const PRESETS: Record<Preset, { size: number; vq: StageBudget<VQConfig>; gpt: StageBudget<TransformerConfig> }> = {
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
  },
  default: {
    size: 32,
    vq: { config: {}, batchSize: 64, steps: 1_000_000, minutes: 40, checkpointEvery: 500 },
    gpt: { config: { dropout: 0 }, batchSize: 32, steps: 1_000_000, minutes: 60, checkpointEvery: 200 },
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
  },
};
