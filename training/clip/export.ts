// A servable CLIP folder from a finished training run: manifest.json (config, metrics, data hash, trainer and task
// hyper-parameters, the text tokenizer's sha256), weights.bin (float16), the tokenizer files it reads captions with
// and the run's training log. What `npm run train:clip -- --export DIR` writes and the retrain pipeline's CLIP stage
// too; a model folder serves it from its `clip/` sub-folder (lib/generate/model-bundle.ts clipDirOf).
import fs from "node:fs";
import path from "node:path";
import type * as tf from "@tensorflow/tfjs";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { CLIP_KIND } from "../../lib/model/clip";
import type { ClipConfig } from "../../lib/model/clip-config";
import { TEXT_VOCAB_FILE } from "../../lib/text/tokenizer";
import type { TrainerConfig } from "../loop/config";
import type { TrainResult } from "../loop/trainer";

/** The files of a text tokenizer folder that a CLIP folder carries beside its weights. */
export const CLIP_TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", TEXT_VOCAB_FILE];

export interface ClipExport {
  params: Map<string, tf.Tensor>;
  config: ClipConfig;
  result: TrainResult;
  /** The dataset's hash (lib/data/manifest.ts datasetHash). */
  dataHash: string;
  trainer: TrainerConfig;
  hyper: Record<string, unknown>;
  /** The text tokenizer folder the captions were read with, and the sha256 of its tokenizer.json. */
  tokenizerDir: string;
  tokenizerSha256: string;
  /** The training run's folder (its log.jsonl is copied). */
  runDir: string;
}

export async function exportClip(dir: string, e: ClipExport): Promise<void> {
  const r = e.result;
  await saveCheckpoint(dir, e.params, {
    kind: CLIP_KIND,
    config: e.config,
    metrics: { steps: r.step, ...r.metrics, imagesPerSecond: r.itemsPerSecond },
    dataHash: e.dataHash,
    step: r.step,
    dtype: "float16",
    extra: { textTokenizer: ".", textTokenizerSha256: e.tokenizerSha256, trainer: e.trainer, hyper: e.hyper },
  });
  for (const f of CLIP_TOKENIZER_FILES) fs.copyFileSync(path.join(e.tokenizerDir, f), path.join(dir, f));
  fs.copyFileSync(path.join(e.runDir, "log.jsonl"), path.join(dir, "log.jsonl"));
}
