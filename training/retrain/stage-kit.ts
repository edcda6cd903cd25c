// What the retrain pipeline's stages (./pipeline.ts, ./vq-stage.ts, ./clip-stage.ts) share: the hashes that key a
// stage's inputs in state.json, and how a training stage runs the shared loop (its folder, cleared when its inputs
// change, and its settings: the task's defaults with the preset's budget, resuming from the last checkpoint).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { TrainerConfig } from "../loop/config";
import type { CreateTask, TaskDefinition, TrainTask } from "../loop/task";
import { train, type TrainResult } from "../loop/trainer";

/** Short sha256 of a string or of a value's JSON: the stage keys in state.json (changing it re-runs every stage). */
export const sha = (x: unknown) =>
  createHash("sha256")
    .update(typeof x === "string" ? x : JSON.stringify(x))
    .digest("hex")
    .slice(0, 16);

export const fileHash = (file: string) => sha(fs.readFileSync(file, "utf8"));

/** Hash of a folder's files (names, sizes, mtimes): cheap change detection for the admin's image folder. */
export function folderHash(dir: string): string {
  return sha(
    fs
      .readdirSync(dir)
      .sort()
      .map((f) => {
        const s = fs.statSync(path.join(dir, f));
        return [f, s.size, Math.round(s.mtimeMs)];
      }),
  );
}

/**
 * A training stage's folder holds the checkpoint it resumes from after an interrupt. When what the stage trains on
 * has changed since (new uploads, a denoised dataset, another tokenizer), resuming would continue, or at its last
 * step simply keep, a model of the old inputs: the folder is cleared and the stage starts afresh. The time budget is
 * not part of `identity`, so a re-run with more minutes continues where the last one stopped.
 */
function freshIfChanged(dir: string, identity: unknown, log: (line: string) => void): void {
  const file = path.join(dir, "inputs.json");
  const hash = sha(identity);
  if (fs.existsSync(file) && JSON.parse(fs.readFileSync(file, "utf8")).hash !== hash) {
    log(`${path.basename(dir)}: its inputs changed since the last checkpoint; starting it afresh`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ hash, identity }, null, 2) + "\n");
}

/** The loop's settings for one training stage of a preset: the task's defaults with the preset's budget. */
function stageTrainer(
  defaults: Readonly<TrainerConfig>,
  stage: { batchSize: number; steps: number; minutes: number; checkpointEvery: number },
  minutes: number | undefined,
  workers: number | "auto" | undefined,
): TrainerConfig {
  return {
    ...defaults,
    batchSize: stage.batchSize,
    steps: stage.steps,
    minutes: minutes ?? stage.minutes,
    warmup: Math.min(defaults.warmup, stage.steps / 5),
    checkpointEvery: stage.checkpointEvery,
    valEvery: stage.checkpointEvery,
    resume: true,
    workers: workers ?? defaults.workers,
  };
}

/** What a training stage trains: its folder, the task and the loop's defaults for it, the preset's budget. */
export interface TrainingStage<O> {
  /** The loop's folder: checkpoints, log.jsonl, sheets. */
  dir: string;
  defaults: Readonly<TrainerConfig>;
  budget: { batchSize: number; steps: number; minutes: number; checkpointEvery: number };
  options: O;
  createTask: CreateTask<O>;
  definition: (options: O) => TaskDefinition<O>;
}

/** What the pipeline gives a training stage. */
export interface StageContext {
  /** What the checkpoints are trained from (freshIfChanged): not the budget. */
  identity: unknown;
  /** The admin's --minutes-… for this stage and the replicas, when given. */
  minutes?: number;
  workers?: number | "auto";
  /** lib/data/manifest.ts datasetHash of the run's dataset, recorded in the checkpoints. */
  dataHash: string;
  log: (line: string) => void;
}

/**
 * Runs one training stage on the shared loop (training/loop/trainer.ts), then `done` with the task (its params hold
 * the trained weights) while it is still alive, e.g. to export it.
 */
export async function runTrainingStage<O, R>(
  s: TrainingStage<O>,
  c: StageContext,
  done: (task: TrainTask, result: TrainResult, trainer: TrainerConfig) => Promise<R>,
): Promise<R> {
  const trainer = stageTrainer(s.defaults, s.budget, c.minutes, c.workers);
  freshIfChanged(s.dir, c.identity, c.log);
  const task = await s.createTask(s.options, "main");
  try {
    const r = await train(task, trainer, {
      outDir: s.dir,
      dataHash: c.dataHash,
      definition: s.definition(s.options),
      backend: tf.getBackend(),
      log: c.log,
    });
    return await done(task, r, trainer);
  } finally {
    task.dispose();
  }
}

/**
 * Caption positions for the pipeline's text tokenizer: its longest training caption (model_max_length) plus two, in
 * steps of four, between 8 and 64. The transformer and the CLIP read captions at this length.
 */
export function captionLength(textDir: string): number {
  const { model_max_length } = JSON.parse(fs.readFileSync(path.join(textDir, "tokenizer_config.json"), "utf8"));
  return Math.max(8, Math.min(64, Math.ceil((model_max_length + 2) / 4) * 4));
}
