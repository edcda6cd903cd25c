// What both trainers share about a run folder: resuming model + optimizer from `<out>/model` and `<out>/optimizer`,
// saving them together, and turning Ctrl-C into "save a checkpoint, then stop".
import fs from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadCheckpoint, saveCheckpoint, type SaveOptions } from "../lib/model/checkpoint";
import type { ParamStore } from "../lib/model/params";
import type { AdamW } from "./optim/adamw";

export interface RunState {
  step: number;
  /** Seconds of training before this process (a --minutes budget spans resumes). */
  elapsedBefore: number;
}

export function resumeRun(outDir: string, params: ParamStore, optimizer: AdamW, resume: boolean, log: (line: string) => void): RunState {
  const modelDir = path.join(outDir, "model");
  if (!resume) return { step: 0, elapsedBefore: 0 };
  if (!fs.existsSync(path.join(modelDir, "manifest.json"))) {
    log(`no checkpoint in ${modelDir}; starting from scratch`);
    return { step: 0, elapsedBefore: 0 };
  }
  const saved = loadCheckpoint(modelDir);
  const opt = loadCheckpoint(path.join(outDir, "optimizer"));
  try {
    params.load(saved.tensors, modelDir);
    optimizer.restore(opt.tensors, opt.manifest.step);
  } finally {
    tf.dispose([...saved.tensors.values(), ...opt.tensors.values()]);
  }
  log(`resumed from ${modelDir} at step ${saved.manifest.step}`);
  return { step: saved.manifest.step, elapsedBefore: Number(saved.manifest.extra.elapsedSeconds ?? 0) };
}

/** Saves weights (float32) and optimizer state, and appends the metrics to metrics.jsonl. */
export async function saveRun(outDir: string, params: ParamStore, optimizer: AdamW, options: SaveOptions & { step: number; elapsedSeconds: number; seed: number }): Promise<void> {
  const { elapsedSeconds, seed, ...save } = options;
  await saveCheckpoint(path.join(outDir, "model"), params.all(), { ...save, extra: { ...save.extra, elapsedSeconds, seed } });
  await saveCheckpoint(path.join(outDir, "optimizer"), optimizer.state(), { kind: "adamw-state", config: {}, step: optimizer.step });
  fs.appendFileSync(path.join(outDir, "metrics.jsonl"), JSON.stringify({ ...options.metrics, step: options.step, elapsedSeconds: Math.round(elapsedSeconds), time: new Date().toISOString() }) + "\n");
}

/** The first Ctrl-C asks the loop to stop after saving; a second one quits at once. */
export function interruptible(log: (line: string) => void): { readonly stopped: boolean; release(): void } {
  const state = { stopped: false };
  const onSignal = () => {
    if (state.stopped) process.exit(130);
    state.stopped = true;
    log("\ninterrupted: saving a checkpoint (Ctrl-C again to quit at once)…");
  };
  process.on("SIGINT", onSignal);
  return {
    get stopped() {
      return state.stopped;
    },
    release: () => void process.off("SIGINT", onSignal),
  };
}
