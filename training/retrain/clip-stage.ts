// The retrain pipeline's "clip" stage: a CLIP (lib/model/clip.ts) trained on the run's dataset with the run's text
// tokenizer, so that the retrained model reranks its candidates as the shipped one does (lib/generate/rerank.ts)
// instead of serving them unranked. Same task, data and export as `npm run train:clip` (../clip/data.ts,
// ../clip/export.ts), on the shared training loop with the preset's budget; resumable like the other training
// stages. It writes a servable CLIP folder (<run>/clip-export) that the export stage copies into the model folder.
import fs from "node:fs";
import path from "node:path";
import { captionsFor, readCaptions } from "../../lib/data/manifest";
import { sha256 } from "../../lib/data/shard";
import { DEFAULT_CLIP_CONFIG, type ClipConfig } from "../../lib/model/clip-config";
import { loadTextTokenizer } from "../../lib/text/tokenizer";
import { clipExtrasFor, clipSplits } from "../clip/data";
import { exportClip } from "../clip/export";
import { DEFAULT_CLIP_SHIFT } from "../clip/presets";
import { CLIP_TRAINER_DEFAULTS, clipTaskDefinition, createTask, type ClipTaskOptions } from "../clip/task";
import { PRESETS, type Preset } from "./presets";
import { fileHash, runTrainingStage, type StageContext } from "./stage-kit";

export interface ClipStageOptions extends StageContext {
  /** The retrain run's folder (runs/retrain/<name>): the loop's checkpoints go to <run>/clip. */
  run: string;
  dataDir: string;
  /** The run's text tokenizer folder and the caption length the transformer reads too. */
  textDir: string;
  textLen: number;
  preset: Preset;
}

/** Where the stage leaves the servable CLIP folder. */
export const clipExportDir = (run: string) => path.join(run, "clip-export");

export async function trainClipStage(o: ClipStageOptions): Promise<{ step: number; hash: string; metrics: Record<string, number> }> {
  const p = PRESETS[o.preset];
  const tok = await loadTextTokenizer(o.textDir);
  const config: ClipConfig = {
    ...DEFAULT_CLIP_CONFIG,
    ...p.clip.config,
    imageSize: p.size,
    textVocab: tok.vocabSize,
    textLen: o.textLen,
    padId: tok.padId,
  };
  // The emoji corpus gets train:clip's caption variants and balanced sampling; an admin's plain captions neither.
  const extras = clipExtrasFor(captionsFor(readCaptions(o.dataDir), "train"));
  const { data } = clipSplits(o.dataDir, tok, config, extras, o.log);
  const tokenizerSha256 = sha256(fs.readFileSync(path.join(o.textDir, "tokenizer.json")));
  const options: ClipTaskOptions = {
    config,
    seed: 1,
    train: data.train,
    val: data.val,
    shift: DEFAULT_CLIP_SHIFT,
    notes: { textTokenizerSha256: tokenizerSha256, textTokenizerSource: o.textDir, preset: o.preset },
  };
  const runDir = path.join(o.run, "clip");
  // An admin's folder may hold fewer pictures than the preset's batch of 256 (the loop refuses a batch larger than
  // the data): contrasting each picture with all the others is then the whole batch.
  const budget = { ...p.clip, batchSize: Math.min(p.clip.batchSize, data.train.count) };
  const spec = { dir: runDir, defaults: CLIP_TRAINER_DEFAULTS, budget, options, createTask, definition: clipTaskDefinition };
  return runTrainingStage(spec, o, async (task, r, trainer) => {
    const out = clipExportDir(o.run);
    // saveCheckpoint keeps the files it finds beside the weights: start from an empty folder.
    fs.rmSync(out, { recursive: true, force: true });
    await exportClip(out, {
      params: task.params.all(),
      config,
      result: r,
      dataHash: o.dataHash,
      trainer,
      hyper: task.hyper,
      tokenizerDir: o.textDir,
      tokenizerSha256,
      runDir,
    });
    return { step: r.step, hash: fileHash(path.join(out, "manifest.json")), metrics: r.metrics };
  });
}
