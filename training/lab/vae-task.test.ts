// The VAE's training task on the shared loop at a tiny size (two replicas, so a worker rebuilds it from its
// definition), and the pixel baseline it is reported against: a hand-checked fit, and the two numbers in the
// manifest in the same units.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { BIN_WIDTH, type VAEConfig } from "../../lib/model/vae-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { tinyVAEConfig } from "../../test/fixtures/tiny-vae";
import { shared } from "../loop/task";
import { train } from "../loop/trainer";
import { LAB_MODELS } from "./models";
import { fitPixelGaussian, pixelGaussianNll } from "./pixel-baseline";
import { createTask, VAE_TRAINER_DEFAULTS, vaeTaskDefinition } from "./vae-task";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
/** Blobs on white: structure a VAE can learn in a few steps. */
function shard(count: number, seed: number): Shard {
  const data = new Uint8Array(count * 32 * 32 * 3).fill(255);
  for (let i = 0; i < count; i++) {
    const cx = 8 + ((i * 7 + seed) % 16);
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) if ((x - cx) ** 2 + (y - 16) ** 2 < 36) data.set([200, (i * 40) % 256, 30], ((i * 32 + y) * 32 + x) * 3);
  }
  return { count, height: 32, width: 32, channels: 3, data: shared(data) };
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-lab-vae-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("pixel baseline", () => {
  it("fits each pixel channel's mean and variance of the dequantised data, and scores in the ELBO's units", () => {
    const s: Shard = { count: 2, height: 1, width: 1, channels: 2, data: Uint8Array.from([10, 255, 30, 255]) };
    const fit = fitPixelGaussian(s, -20);
    const c = (x: number) => (x + 0.5) * BIN_WIDTH;
    expect(fit.mean[0]).toBeCloseTo((c(10) + c(30)) / 2, 7);
    expect(Math.exp(fit.logVar[0]) / (((c(30) - c(10)) / 2) ** 2 + BIN_WIDTH ** 2 / 12)).toBeCloseTo(1, 5);
    // A constant channel: only the noise's variance (above this floor).
    expect(Math.exp(fit.logVar[1]) / (BIN_WIDTH ** 2 / 12)).toBeCloseTo(1, 5);
    const nll = pixelGaussianNll(fit, s);
    const perDim = (m: number, lv: number, x: number) =>
      0.5 * (Math.log(2 * Math.PI) + lv + ((c(x) - m) ** 2 + BIN_WIDTH ** 2 / 12) / Math.exp(lv)) + Math.log(256);
    const expected =
      (perDim(fit.mean[0], fit.logVar[0], 10) + perDim(fit.mean[0], fit.logVar[0], 30)) / 2 + perDim(fit.mean[1], fit.logVar[1], 255);
    expect(nll.nats).toBeCloseTo(expected, 3);
    expect(nll.bitsPerDim).toBeCloseTo(expected / (2 * Math.LN2), 3);
  });
});

describe("VAE task", () => {
  it("trains on the shared loop over two replicas and reports the val bound beside the baseline", async () => {
    const o = { config: tinyVAEConfig(), seed: 1, train: shard(48, 0), val: shard(16, 5), klWarmupFraction: 0.5, sheet: true };
    const task = await createTask(o, "main");
    const before = tf.memory().numTensors;
    try {
      const outDir = path.join(dir, "run");
      const engine = "tfjs"; // replicas, not the default ORT (./vae-native.test.ts runs that): a worker must rebuild the task
      const r = await train(
        task,
        { ...VAE_TRAINER_DEFAULTS, batchSize: 16, steps: 8, warmup: 2, checkpointEvery: 8, valEvery: 4, logEvery: 2, workers: 2, engine },
        { outDir, dataHash: "test", definition: vaeTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
      );
      expect(Object.keys(r.metrics).sort()).toEqual(
        ["baselineBitsPerDim", "baselineNll", "valActiveUnits", "valBitsPerDim", "valKl", "valNegElbo"].sort(),
      );
      expect(r.metrics.valBitsPerDim).toBeCloseTo(r.metrics.valNegElbo / (32 * 32 * 3 * Math.LN2), 6);
      expect(r.metrics.baselineBitsPerDim).toBeCloseTo(
        pixelGaussianNll(fitPixelGaussian(o.train, o.config.minLogVar), o.val).bitsPerDim,
        6,
      );
      const m = readCheckpointManifest(path.join(outDir, "model"));
      expect([m.kind, m.dataHash, m.metrics.baselineNll]).toEqual(["vae", "test", r.metrics.baselineNll]);
      expect(fs.readdirSync(outDir).filter((f) => f.startsWith("sheet-"))).toEqual(["sheet-000008.png"]);
      const log = fs
        .readFileSync(path.join(outDir, "log.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const bpd = log.filter((l) => "bpd" in l).map((l) => l.bpd);
      expect(bpd.at(-1)).toBeLessThan(bpd[0]);
    } finally {
      task.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  });

  it("is listed in the lab's table with a definition the loop can rebuild", async () => {
    const { labModel } = await LAB_MODELS.vae();
    const def = labModel.definition({ train: shard(4, 0), val: shard(2, 0), seed: 2, preset: "tiny", sheet: false });
    expect(def.module).toMatch(/vae-task\.ts$/);
    expect((def.options as { config: { widths: number[] } }).config.widths).toEqual([8, 8, 16]);
    // The likelihood presets: the same sizes, another likelihood; default and tiny (the AAE's too) stay as they were.
    const likelihoodOf = (preset: string) =>
      (labModel.definition({ train: shard(4, 0), val: shard(2, 0), seed: 2, preset, sheet: false }).options as { config: VAEConfig })
        .config;
    expect(
      ["default", "tiny", "logistic", "floored", "fixed", "tiny-logistic", "tiny-floored", "tiny-fixed"].map(
        (p) => likelihoodOf(p).likelihood,
      ),
    ).toEqual([
      "gaussian-learned",
      "gaussian-learned",
      "logistic",
      "gaussian-floored",
      "gaussian-fixed",
      "logistic",
      "gaussian-floored",
      "gaussian-fixed",
    ]);
    expect(likelihoodOf("tiny-logistic").widths).toEqual([8, 8, 16]);
    const task = await createTask(
      { config: likelihoodOf("tiny-logistic"), seed: 1, train: shard(4, 0), val: shard(2, 0), klWarmupFraction: 0.5 },
      "main",
    );
    expect(task.hyper?.likelihood).toMatch(/discretised logistic/);
    task.dispose();
  });
});
