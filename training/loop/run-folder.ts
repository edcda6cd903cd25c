// A run folder: `<out>/model` (weights, float32, with a manifest holding every hyper-parameter and the data hash),
// `<out>/optimizer` (AdamW moments) and `<out>/log.jsonl`. This file saves and restores them, and turns Ctrl-C into
// "save a checkpoint, then stop".
//
// Weights and moments are two folders, and no rename replaces two folders at once, so a save orders them around
// one commit point, the model's own atomic replacement: the optimizer state goes first to `<out>/optimizer-pending`,
// then the model, then the pending state replaces `<out>/optimizer`. Killed before the model is in, the old pair is
// whole (the pending state is stale and dropped); killed after, the new model's state waits in pending and
// `restoreRun` moves it in. Each optimizer manifest records the run step it belongs to (`extra.runStep`), and a pair
// whose steps still differ (folders copied by hand, or left by a save from before this scheme) is refused.
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import {
  crashPoint,
  loadCheckpoint,
  readCheckpointManifest,
  recoverCheckpoint,
  removeFolder,
  replaceFolder,
  saveCheckpoint,
  type CheckpointManifest,
  type SaveOptions,
} from "../../lib/model/checkpoint";
import type { ParamStore } from "../../lib/model/params";
import type { OptimizerState } from "../optim/flat-adamw";
import type { TrainerConfig } from "./config";

export interface Restored {
  step: number;
  /** Seconds of training before this process (a --minutes budget spans resumes). */
  elapsedBefore: number;
  /** The exported model folder the weights came from, when the run warm-started. */
  warmStartedFrom: string | null;
}

/**
 * Resumes `<out>/model` + `<out>/optimizer` when asked and present; otherwise, with `warmStart`, loads the weights
 * of an exported (e.g. float16) model folder and starts a fresh schedule — the way to go on after the run folder
 * is gone (a new machine) but the shipped model is not.
 */
export function restoreRun(
  outDir: string,
  params: ParamStore,
  optimizer: OptimizerState,
  c: TrainerConfig,
  log: (line: string) => void,
  freshOnWarmStart?: (name: string) => boolean,
): Restored {
  const modelDir = path.join(outDir, "model");
  const fresh: Restored = { step: 0, elapsedBefore: 0, warmStartedFrom: null };
  if (c.resume) recoverCheckpoint(modelDir);
  if (c.resume && fs.existsSync(path.join(modelDir, "manifest.json"))) {
    const saved = loadCheckpoint(modelDir);
    try {
      const optDir = pairedOptimizer(outDir, saved.manifest.step);
      const opt = loadCheckpoint(optDir);
      try {
        params.load(saved.tensors, modelDir);
        optimizer.restore(opt.tensors, opt.manifest.step);
      } finally {
        tf.dispose([...opt.tensors.values()]);
      }
    } finally {
      tf.dispose([...saved.tensors.values()]);
    }
    const m = saved.manifest;
    const before = m.extra.trainer as Partial<TrainerConfig> | undefined;
    if (before && before.batchSize !== c.batchSize)
      log(`note: the checkpoint was trained with batch ${before.batchSize}, this run uses ${c.batchSize}; the data order changes`);
    log(`resumed from ${modelDir} at step ${m.step}`);
    return {
      step: m.step,
      elapsedBefore: Number(m.extra.elapsedSeconds ?? 0),
      warmStartedFrom: (m.extra.warmStartedFrom as string | null) ?? null,
    };
  }
  if (c.resume) log(`no checkpoint in ${modelDir}`);
  if (c.warmStart) {
    const { manifest, tensors } = loadCheckpoint(c.warmStart);
    try {
      params.load(tensors, c.warmStart, freshOnWarmStart);
    } finally {
      tf.dispose([...tensors.values()]);
    }
    log(`warm start from ${c.warmStart} (${manifest.kind}, trained ${manifest.step} steps): weights loaded, new optimizer and schedule`);
    return { ...fresh, warmStartedFrom: c.warmStart };
  }
  if (c.resume) log("starting from scratch");
  return fresh;
}

/** Saves optimizer state and weights (float32) as a pair that a kill at any instant leaves resumable (see above). */
export async function saveRun(
  outDir: string,
  params: ParamStore,
  optimizer: OptimizerState,
  options: SaveOptions & { step: number; elapsedSeconds: number },
): Promise<void> {
  const { elapsedSeconds, ...save } = options;
  const pending = path.join(outDir, PENDING);
  await saveCheckpoint(pending, optimizer.state(), {
    kind: "adamw-state",
    config: {},
    step: optimizer.step,
    extra: { runStep: save.step },
  });
  crashPoint("run:optimizer-pending");
  await saveCheckpoint(path.join(outDir, "model"), params.all(), { ...save, extra: { ...save.extra, elapsedSeconds } });
  crashPoint("run:model-saved");
  replaceFolder(pending, path.join(outDir, "optimizer"));
}

const PENDING = "optimizer-pending";

/** The run step an optimizer folder belongs to; folders saved before `runStep` was recorded have only their own. */
function runStepOf(manifest: CheckpointManifest): number {
  return typeof manifest.extra.runStep === "number" ? manifest.extra.runStep : manifest.step;
}

/**
 * Finishes what a killed `saveRun` left (the pending optimizer state moved in if the model was committed with it,
 * dropped if not) and returns the optimizer folder whose step is the model's, or says why there is none.
 */
function pairedOptimizer(outDir: string, modelStep: number): string {
  const modelDir = path.join(outDir, "model");
  const optDir = path.join(outDir, "optimizer");
  const pending = path.join(outDir, PENDING);
  recoverCheckpoint(optDir);
  recoverCheckpoint(pending);
  if (fs.existsSync(path.join(pending, "manifest.json"))) {
    if (runStepOf(readCheckpointManifest(pending)) === modelStep) replaceFolder(pending, optDir);
    else if (fs.existsSync(path.join(optDir, "manifest.json")) && runStepOf(readCheckpointManifest(optDir)) === modelStep)
      removeFolder(pending);
  }
  if (!fs.existsSync(path.join(optDir, "manifest.json")))
    throw new Error(
      `${modelDir} has no optimizer state beside it (${optDir}); use --warm-start ${modelDir} to start a new schedule from these weights`,
    );
  const optStep = runStepOf(readCheckpointManifest(optDir));
  if (optStep !== modelStep)
    throw new Error(
      `${modelDir} holds the weights of step ${modelStep} but ${optDir} holds the optimizer state of step ${optStep}: ` +
        `they were not saved together, and resuming would pair the weights with moments that do not belong to them. ` +
        `Use --warm-start ${modelDir} to start a new schedule from these weights, or put back the optimizer folder of step ${modelStep}.`,
    );
  return optDir;
}

/**
 * The first Ctrl-C (or SIGTERM) asks the loop to stop after saving; another one, a few seconds later, quits at
 * once. Repeats within that window are the same keypress arriving twice (the terminal signals the whole process
 * group, and npm/tsx relay it to the child as well), so they must not cost the checkpoint.
 */
export function interruptible(log: (line: string) => void, repeatWindowMs = 5000): { readonly stopped: boolean; release(): void } {
  const state = { stopped: false, at: 0 };
  const onSignal = () => {
    if (state.stopped) {
      if (performance.now() - state.at > repeatWindowMs) process.exit(130);
      return;
    }
    state.stopped = true;
    state.at = performance.now();
    log("\ninterrupted: saving a checkpoint after this step (Ctrl-C again in a few seconds to quit at once)…");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  return {
    get stopped() {
      return state.stopped;
    },
    release: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
