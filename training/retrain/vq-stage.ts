// The retrain pipeline's "image-tokenizer" stage when it trains one (not --reuse-tokenizer): the preset's dVAE on
// the run's train split, on the shared training loop and resumable, saved as a float16 image-tokenizer folder.
import path from "node:path";
import type { Shard } from "../../lib/data/shard";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../../lib/model/vq-config";
import { shared } from "../loop/task";
import { createTask, DVAE_SCHEDULE, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "../vq/task";
import { PRESETS, type Preset } from "./presets";
import { runTrainingStage, type StageContext } from "./stage-kit";

export interface VqStageOptions extends StageContext {
  /** The retrain run's folder: the loop's checkpoints go to <run>/vq. */
  run: string;
  /** Where the image tokenizer is saved. */
  out: string;
  train: Shard;
  val: Shard;
  preset: Preset;
}

export async function trainImageTokenizer(o: VqStageOptions): Promise<void> {
  const p = PRESETS[o.preset];
  const config: VQConfig = { ...DEFAULT_VQ_CONFIG, ...p.vq.config, imageSize: p.size };
  const options: VQTaskOptions = {
    config,
    seed: 1,
    train: { ...o.train, data: shared(o.train.data) },
    val: { ...o.val, data: shared(o.val.data) },
    ...DVAE_SCHEDULE,
    sheet: true,
  };
  const dir = path.join(o.run, "vq");
  const spec = { dir, defaults: VQ_TRAINER_DEFAULTS, budget: p.vq, options, createTask, definition: vqTaskDefinition };
  await runTrainingStage(spec, o, async (task, r, trainer) => {
    await saveCheckpoint(o.out, task.params.all(), {
      kind: config.kind,
      config,
      metrics: r.metrics,
      dataHash: o.dataHash,
      step: r.step,
      dtype: "float16",
      extra: { trainer, hyper: task.hyper },
    });
  });
}
