// The retrain pipeline's stages by name, each recorded in <run>/state.json with a hash of its inputs and its
// outputs: a stage whose inputs did not change since it last finished is skipped and hands back what it returned
// then, so a re-run redoes only what changed.
import fs from "node:fs";
import path from "node:path";
import { sha } from "./stage-kit";

/** The stages in the order they run, as state.json and the log name them. */
export const RETRAIN_STAGES = [
  "data",
  "image-tokenizer",
  "text-tokenizer",
  "codes",
  "transformer",
  "clip",
  "export",
  "exemplars",
  "evaluate",
  "register",
] as const;
export type RetrainStage = (typeof RETRAIN_STAGES)[number];

type State = { stages: Record<string, { hash: string; outputs: Record<string, unknown>; seconds: number }> };

export interface StageRunner {
  /** Runs `work` unless the stage finished before with the same inputs; either way returns the stage's outputs. */
  stage<T extends Record<string, unknown>>(name: RetrainStage, inputs: unknown, work: () => Promise<T>): Promise<T>;
  /** The inputs hash a finished stage recorded (an input of the stages that use its files). */
  hashOf(name: RetrainStage): string | undefined;
  /** Stages skipped so far, in order. */
  skipped: RetrainStage[];
}

export function stageRunner(run: string, log: (line: string) => void): StageRunner {
  const stateFile = path.join(run, "state.json");
  const state: State = fs.existsSync(stateFile) ? JSON.parse(fs.readFileSync(stateFile, "utf8")) : { stages: {} };
  const skipped: RetrainStage[] = [];
  const started = performance.now();
  const n = RETRAIN_STAGES.length;
  return {
    skipped,
    hashOf: (name) => state.stages[name]?.hash,
    async stage<T extends Record<string, unknown>>(name: RetrainStage, inputs: unknown, work: () => Promise<T>): Promise<T> {
      const hash = sha(inputs);
      const i = RETRAIN_STAGES.indexOf(name) + 1;
      const prev = state.stages[name];
      if (prev?.hash === hash) {
        skipped.push(name);
        log(`[${i}/${n}] ${name}: inputs unchanged, skipped`);
        return prev.outputs as T;
      }
      log(`[${i}/${n}] ${name}… (${Math.round((performance.now() - started) / 1000)} s so far)`);
      const t0 = performance.now();
      const outputs = await work();
      state.stages[name] = { hash, outputs, seconds: Math.round((performance.now() - t0) / 1000) };
      fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
      log(`[${i}/${n}] ${name} done in ${state.stages[name].seconds} s`);
      return outputs;
    },
  };
}
