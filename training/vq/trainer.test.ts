// A real (tiny) training run: it learns, checkpoints, and resumes where it stopped.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildShapes } from "../data/build-shapes";
import { loadSplit } from "../../lib/data/manifest";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { DEFAULT_VQ_CONFIG, type VQConfig } from "../../lib/model/vq-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { reconstructionSheet } from "./recon-sheet";
import { trainVQ, type TrainVQOptions } from "./trainer";

let dir: string;
const config: VQConfig = { ...DEFAULT_VQ_CONFIG, encoderWidths: [8, 16], decoderWidths: [8, 16], outputWidth: 8, codebookSize: 32, embedDim: 8 };

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-train-"));
  buildShapes({ outDir: path.join(dir, "shapes"), seed: 3, counts: { train: 64, val: 16, test: 8 }, log: () => {} });
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const options = (over: Partial<TrainVQOptions>): TrainVQOptions => ({
  config,
  train: loadSplit(path.join(dir, "shapes"), "train", 32),
  val: loadSplit(path.join(dir, "shapes"), "val", 32),
  outDir: path.join(dir, "run"),
  batchSize: 16,
  steps: 6,
  minutes: 0,
  seed: 1,
  lr: { peak: 3e-3, warmupSteps: 2, floor: 0.1 },
  checkpointEvery: 3,
  resume: false,
  dataHash: null,
  finalTemperature: 1 / 16,
  klWeight: 1e-3,
  sheet: reconstructionSheet,
  log: () => {},
  ...over,
});

describe("image tokenizer training", () => {
  it("lowers the loss, writes checkpoints, sheets and metrics, and resumes from the last step", async () => {
    const first = await trainVQ(options({ steps: 6 }));
    expect(first.step).toBe(6);
    expect(Number.isFinite(first.val.psnr)).toBe(true);
    first.model.dispose();
    const run = path.join(dir, "run");
    expect(readCheckpointManifest(path.join(run, "model")).step).toBe(6);
    expect(fs.existsSync(path.join(run, "recon-000003.png"))).toBe(true);
    expect(fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(2);

    const before = tf.memory().numTensors;
    const resumed = await trainVQ(options({ steps: 9, resume: true }));
    expect(resumed.step).toBe(9);
    expect(readCheckpointManifest(path.join(run, "model")).step).toBe(9);
    resumed.model.dispose();
    const psnrs = fs.readFileSync(path.join(run, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l).valPsnr as number);
    expect(psnrs).toHaveLength(3);
    expect(psnrs[2]).toBeGreaterThan(psnrs[0]);
    // Everything the run created (model, optimizer state, batches) is released again.
    expect(tf.memory().numTensors).toBe(before);
  });

  it("trains the dVAE through the same loop", async () => {
    const r = await trainVQ(options({ config: { ...config, kind: "dvae" }, outDir: path.join(dir, "dvae"), steps: 4, checkpointEvery: 4 }));
    expect(r.step).toBe(4);
    r.model.dispose();
  });
});
