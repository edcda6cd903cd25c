// The one training loop on a real (tiny) image tokenizer: it learns, checkpoints with every hyper-parameter and
// the data hash, logs the curve, resumes on the same curve, warm-starts from an exported model when the run folder
// is gone, and releases every tensor it made.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadSplit } from "../../lib/data/manifest";
import { loadCheckpoint, readCheckpointManifest, saveCheckpoint } from "../../lib/model/checkpoint";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { buildShapes } from "../data/build-shapes";
import { createTask, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "../vq/task";
import type { TrainerConfig } from "./config";
import { interruptible } from "./run-folder";
import { train } from "./trainer";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
const config = tinyVQConfig();

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-train-"));
  buildShapes({ outDir: path.join(dir, "shapes"), seed: 3, counts: { train: 64, val: 16, test: 8 }, log: () => {} });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const options = (over: Partial<VQTaskOptions> = {}): VQTaskOptions => ({
  config,
  seed: 1,
  train: loadSplit(path.join(dir, "shapes"), "train", 32),
  val: loadSplit(path.join(dir, "shapes"), "val", 32),
  finalTemperature: 1 / 16,
  temperatureFraction: 0.1,
  klWeight: 1e-3,
  klWarmupFraction: 0.2,
  sheet: true,
  ...over,
});
const trainer = (over: Partial<TrainerConfig>): TrainerConfig => ({
  ...VQ_TRAINER_DEFAULTS,
  batchSize: 16,
  steps: 6,
  lr: 3e-3,
  warmup: 2,
  checkpointEvery: 3,
  valEvery: 3,
  logEvery: 1,
  workers: 1,
  ...over,
});

async function run(o: VQTaskOptions, t: TrainerConfig, outDir: string) {
  const task = await createTask(o, "main");
  try {
    const r = await train(task, t, {
      outDir,
      dataHash: "cafe",
      definition: vqTaskDefinition(o),
      backend: "wasm",
      log: () => {},
      progressStream: sink,
    });
    return { r, task };
  } catch (err) {
    task.dispose();
    throw err;
  }
}

const logRows = (outDir: string) =>
  fs
    .readFileSync(path.join(outDir, "log.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, number>);

describe("the training loop", () => {
  it("learns, checkpoints every hyper-parameter and the data hash, logs the curve, and resumes on the same curve", async () => {
    const before = tf.memory().numTensors;
    const out = path.join(dir, "run");
    const first = await run(options(), trainer({ steps: 6 }), out);
    expect(first.r.step).toBe(6);
    first.task.dispose();
    const m = readCheckpointManifest(path.join(out, "model"));
    expect(m.step).toBe(6);
    expect(m.dataHash).toBe("cafe");
    expect(m.extra.trainer).toMatchObject({ batchSize: 16, lr: 3e-3, warmup: 2, weightDecay: 0, seed: 1, workers: 1 });
    expect(m.extra.hyper).toMatchObject({ klWeight: 1e-3 });
    expect(fs.existsSync(path.join(out, "sheet-000003.png"))).toBe(true);
    const rows = logRows(out);
    expect(rows.filter((r) => "loss" in r).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of rows.filter((r) => "loss" in r)) expect(r).toHaveProperty("lr");

    const resumed = await run(options(), trainer({ steps: 9, resume: true }), out);
    expect(resumed.r.step).toBe(9);
    resumed.task.dispose();
    const all = logRows(out);
    // The resumed run goes on at step 7 (no step is trained twice) and its val PSNR keeps rising.
    expect(all.filter((r) => "loss" in r).map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const psnrs = all.filter((r) => r.checkpoint).map((r) => r.valPsnr);
    expect(psnrs).toHaveLength(3);
    expect(psnrs[2]).toBeGreaterThan(psnrs[0]);
    // Everything the runs created (models, optimizer state, batches, workers' messages) is released again.
    expect(tf.memory().numTensors).toBe(before);
  });

  it("warm-starts from an exported float16 model when the run folder is gone", async () => {
    const src = await run(options(), trainer({ steps: 3 }), path.join(dir, "src"));
    const exported = path.join(dir, "exported");
    await saveCheckpoint(exported, src.task.params.all(), { kind: "vqvae", config, dtype: "float16", step: 3 });
    // A trained weight (not the codebook: the EMA update moves it whatever the learning rate).
    const name = [...src.task.params.trainable().keys()][0];
    const want = (await src.task.params.get(name).data()) as Float32Array;
    src.task.dispose();
    const warm = await run(options(), trainer({ steps: 1, resume: true, warmStart: exported, lr: 1e-12 }), path.join(dir, "fresh"));
    const got = (await warm.task.params.get(name).data()) as Float32Array;
    warm.task.dispose();
    // float16 rounding (and a 1e-12 step): the weight is the exported one, not a fresh initialisation.
    let err = 0;
    for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
    expect(err).toBeLessThan(2e-3);
    expect(readCheckpointManifest(path.join(dir, "fresh", "model")).extra.warmStartedFrom).toBe(exported);
  });

  it("hands every checkpoint to onCheckpoint once it is saved, with the task's parameters holding its weights", async () => {
    const out = path.join(dir, "hooked");
    const o = options({ sheet: false });
    const task = await createTask(o, "main");
    const seen: { step: number; onDisk: number; match: boolean }[] = [];
    try {
      const name = [...task.params.trainable().keys()][0];
      const r = await train(task, trainer({ steps: 6 }), {
        outDir: out,
        dataHash: null,
        definition: vqTaskDefinition(o),
        backend: "wasm",
        log: () => {},
        progressStream: sink,
        onCheckpoint: async (step, metrics) => {
          // What a keeper copies: the checkpoint on disk and the parameters it would export are both this step's.
          const { manifest, tensors } = loadCheckpoint(path.join(out, "model"));
          try {
            const saved = tensors.get(name)!.dataSync();
            const live = task.params.get(name).dataSync();
            seen.push({ step, onDisk: manifest.step, match: saved.length > 0 && saved.every((v, i) => v === live[i]) });
            expect(metrics).toHaveProperty("valPsnr");
          } finally {
            tf.dispose([...tensors.values()]);
          }
        },
      });
      expect(r.step).toBe(6);
    } finally {
      task.dispose();
    }
    expect(seen).toEqual([
      { step: 3, onDisk: 3, match: true },
      { step: 6, onDisk: 6, match: true },
    ]);
  });

  it("trains the dVAE through the same loop, on two workers", async () => {
    const o = options({ config: { ...config, kind: "dvae" }, sheet: false });
    const dv = await run(o, trainer({ steps: 2, workers: 2 }), path.join(dir, "dvae"));
    expect(dv.r.step).toBe(2);
    expect(dv.r.workers).toBe(2);
    dv.task.dispose();
  });

  it("clips by the global norm: a clip far below the gradients' norm changes the run (Adam alone would not)", async () => {
    // Adam is invariant to one constant gradient scale, not to a factor that changes with each step's norm: a run
    // whose clip factor were dropped would end exactly where the unclipped one does.
    const o = options({ sheet: false });
    const final = async (clip: number, name: string) => {
      const { task } = await run(o, trainer({ steps: 3, clip, checkpointEvery: 100, valEvery: 100 }), path.join(dir, name));
      const values = [...task.params.trainable().values()].flatMap((v) => Array.from(v.dataSync()));
      task.dispose();
      return values;
    };
    const free = await final(0, "clip-off");
    const again = await final(0, "clip-off-2");
    const clipped = await final(1e-4, "clip-on");
    expect(again).toEqual(free);
    expect(clipped.some((x, i) => Math.abs(x - free[i]) > 1e-6)).toBe(true);
  });

  it("treats a Ctrl-C that arrives twice at once (terminal + npm/tsx relay) as one: stop after saving, do not quit", () => {
    const lines: string[] = [];
    const i = interruptible((l) => lines.push(l));
    try {
      process.emit("SIGINT");
      process.emit("SIGINT");
      process.emit("SIGTERM");
      // Still running (a quit would have ended this test process), and asked to stop once.
      expect(i.stopped).toBe(true);
      expect(lines).toHaveLength(1);
    } finally {
      i.release();
    }
  });

  it("stops with a clear error when a resumed checkpoint does not fit the model", async () => {
    const task = await createTask(options({ config: { ...config, codebookSize: 16 } }), "main");
    try {
      await expect(
        train(task, trainer({ steps: 10, resume: true }), {
          outDir: path.join(dir, "run"),
          dataHash: null,
          definition: null,
          backend: "wasm",
          log: () => {},
          progressStream: sink,
        }),
      ).rejects.toThrow(/vq\.embedding has shape \[32,8\], the model expects \[16,8\]/);
    } finally {
      task.dispose();
    }
  });
});
