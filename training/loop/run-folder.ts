// A run folder: `<out>/model` (weights, float32, with a manifest holding every hyper-parameter and the data hash),
// `<out>/optimizer` (AdamW moments) and `<out>/log.jsonl`. This file saves and restores them, and turns Ctrl-C into
// "save a checkpoint, then stop".
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, saveCheckpoint, type SaveOptions } from "../../lib/model/checkpoint";
import type { ParamStore } from "../../lib/model/params";
import type { AdamW } from "../optim/adamw";
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
  optimizer: AdamW,
  c: TrainerConfig,
  log: (line: string) => void,
  freshOnWarmStart?: (name: string) => boolean,
): Restored {
  const modelDir = path.join(outDir, "model");
  const fresh: Restored = { step: 0, elapsedBefore: 0, warmStartedFrom: null };
  if (c.resume && fs.existsSync(path.join(modelDir, "manifest.json"))) {
    const saved = loadCheckpoint(modelDir);
    try {
      const optDir = path.join(outDir, "optimizer");
      if (!fs.existsSync(path.join(optDir, "manifest.json")))
        throw new Error(
          `${modelDir} has no optimizer state beside it (${optDir}); use --warm-start ${modelDir} to start a new schedule from these weights`,
        );
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

/** Saves weights (float32) and optimizer state together. */
export async function saveRun(
  outDir: string,
  params: ParamStore,
  optimizer: AdamW,
  options: SaveOptions & { step: number; elapsedSeconds: number },
): Promise<void> {
  const { elapsedSeconds, ...save } = options;
  await saveCheckpoint(path.join(outDir, "model"), params.all(), { ...save, extra: { ...save.extra, elapsedSeconds } });
  await saveCheckpoint(path.join(outDir, "optimizer"), optimizer.state(), { kind: "adamw-state", config: {}, step: optimizer.step });
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
