// A run folder's pair (weights + optimizer state) survives a kill -9 at every point of saveRun: a child process
// saves the pair of step 2 over that of step 1 and SIGKILLs itself at one crash point; restoreRun then resumes a
// pair whose weights, moments and steps all come from one save. A pair whose steps differ is refused, saying so.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveCheckpoint } from "../../lib/model/checkpoint";
import { selectBackend } from "../../lib/tensor/backend";
import { crashModel, crashOptimizer, crashValues } from "../../test/fixtures/crash-pair";
import { crashPointsIn, saveInChildren, type ChildJob, type ChildResult } from "../../test/fixtures/kill-child";
import { DEFAULT_TRAINER_CONFIG } from "./config";
import { restoreRun, saveRun } from "./run-folder";

// Every point of saveRun over an existing pair, and the step that must resume after a kill there. The pending
// optimizer state is written first (a first save of optimizer-pending: no old to set aside), then the model
// (the commit point: its old is set aside at swap:old-set-aside@1), then the pending state replaces the old one.
const RESAVE: [string, number][] = [
  ["checkpoint:weights-partly-written@1", 1],
  ["checkpoint:extras-copied@1", 1],
  ["checkpoint:manifest-partly-written@1", 1],
  ["checkpoint:tmp-complete@1", 1],
  ["swap:new-in-place@1", 1],
  ["run:optimizer-pending@1", 1],
  ["checkpoint:weights-partly-written@2", 1],
  ["checkpoint:extras-copied@2", 1],
  ["checkpoint:manifest-partly-written@2", 1],
  ["checkpoint:tmp-complete@2", 1],
  ["swap:old-set-aside@1", 2],
  ["swap:new-in-place@2", 2],
  ["remove:manifest-removed@1", 2],
  ["run:model-saved@1", 2],
  ["swap:old-set-aside@2", 2],
  ["swap:new-in-place@3", 2],
  ["remove:manifest-removed@2", 2],
];

const config = { ...DEFAULT_TRAINER_CONFIG, resume: true };
const quiet = () => {};
let root: string;
beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  root = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-run-crash-"));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function savePair(out: string, version: number): Promise<void> {
  const params = crashModel(version);
  const optimizer = crashOptimizer(params, version);
  await saveRun(out, params, optimizer, { kind: "crash-test", config: {}, step: version, elapsedSeconds: version });
  optimizer.dispose();
  params.dispose();
}

/** Resumes `out` into a fresh model and optimizer; returns the step and every value they then hold. */
function resume(out: string): { step: number; params: number[]; moments: number[]; optimizerStep: number } {
  const params = crashModel(0);
  const optimizer = crashOptimizer(params, 0);
  try {
    const { step } = restoreRun(out, params, optimizer, config, quiet);
    const v = crashValues(params, optimizer);
    return { step, params: v.params, moments: v.moments, optimizerStep: v.step };
  } finally {
    optimizer.dispose();
    params.dispose();
  }
}

const consistent = (step: number) => ({ step, params: [step], moments: [step], optimizerStep: step });

describe("a run folder killed mid-save", () => {
  const listDir = () => path.join(root, "list");
  const resaveDir = (point: string) => path.join(root, `resave-${point}`);
  /** What the child saving into each run folder ended with. */
  const children = new Map<string, ChildResult>();
  function childOf(out: string): ChildResult {
    const r = children.get(out);
    if (!r) throw new Error(`no child saved into ${out}: the set-up above failed`);
    return r;
  }

  // The children all start here, a few at a time (each its own process, killed at its own point); the tests below
  // judge what each left.
  beforeAll(async () => {
    const jobs: ChildJob[] = [];
    for (const [out, crashAt] of [[listDir(), "list"], ...RESAVE.map(([point]) => [resaveDir(point), point])]) {
      await savePair(out, 1);
      jobs.push({ mode: "run", dir: out, version: 2, crashAt });
    }
    const results = await saveInChildren(jobs);
    jobs.forEach((job, i) => children.set(job.dir, results[i]));
  }, 180_000);

  it("has these crash points and no others", () => {
    expect(crashPointsIn(childOf(listDir()))).toEqual(RESAVE.map(([p]) => p));
  });

  it.each(RESAVE)("killed at %s while saving step 2 over step 1, resumes step %i whole", async (point, expected) => {
    const out = resaveDir(point);
    const r = childOf(out);
    expect(r.signal, r.stderr).toBe("SIGKILL");
    expect(resume(out)).toEqual(consistent(expected));
    // restoreRun finished or dropped what the killed save left.
    expect(fs.readdirSync(out).sort()).toEqual(["model", "optimizer"]);
    await savePair(out, 3);
    expect(resume(out)).toEqual(consistent(3));
  });
});

describe("restoreRun", () => {
  /** Replaces `<out>/optimizer` by state of `step`, as a pair not saved together would have it. */
  async function optimizerOf(out: string, step: number, extra?: Record<string, unknown>): Promise<void> {
    const params = crashModel(step);
    const optimizer = crashOptimizer(params, step);
    await saveCheckpoint(path.join(out, "optimizer"), optimizer.state(), { kind: "adamw-state", config: {}, step, extra });
    optimizer.dispose();
    params.dispose();
  }

  it("refuses weights and optimizer state of different steps, naming both and the way on", async () => {
    const out = path.join(root, "mismatch");
    await savePair(out, 5);
    await optimizerOf(out, 3, { runStep: 3 });
    const model = path.join(out, "model");
    expect(() => resume(out)).toThrow(
      `${model} holds the weights of step 5 but ${path.join(out, "optimizer")} holds the optimizer state of step 3`,
    );
    expect(() => resume(out)).toThrow(`Use --warm-start ${model} to start a new schedule from these weights`);
  });

  it("checks a pair saved before runStep was recorded by the optimizer's own step", async () => {
    const out = path.join(root, "older");
    await savePair(out, 5);
    await optimizerOf(out, 4);
    expect(() => resume(out)).toThrow(/weights of step 5 but .* optimizer state of step 4/);
    await optimizerOf(out, 5);
    expect(resume(out)).toEqual(consistent(5));
  });

  it("says when the optimizer state is missing", async () => {
    const out = path.join(root, "no-optimizer");
    await savePair(out, 2);
    fs.rmSync(path.join(out, "optimizer"), { recursive: true });
    expect(() => resume(out)).toThrow(/has no optimizer state beside it .*use --warm-start/);
  });

  it("leaks no tensors", async () => {
    const out = path.join(root, "leak");
    await savePair(out, 2);
    const before = tf.memory().numTensors;
    resume(out);
    expect(tf.memory().numTensors).toBe(before);
  });
});
