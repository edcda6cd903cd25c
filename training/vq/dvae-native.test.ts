// The dVAE task on the native engine: one ONNX Runtime step equals the task's tfjs step (loss, terms, every
// gradient) mid-anneal, where τ, the KL warm-up and the step's Gumbel noise all matter; the same step fed another
// step's noise does not; and `train` picks ORT by default for a dVAE and learns.
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadSplit } from "../../lib/data/manifest";
import { itMatchesTfjsStep, nativeTestSetup, stepRows, trainQuietly } from "../../test/fixtures/native-trainer";
import { tinyVQConfig } from "../../test/fixtures/tiny-vq-config";
import { buildShapes } from "../data/build-shapes";
import { createTask, gumbelStep, VQ_TRAINER_DEFAULTS, vqTaskDefinition, type VQTaskOptions } from "./task";

const dir = nativeTestSetup("dvae-native");
beforeAll(() => buildShapes({ outDir: path.join(dir(), "shapes"), seed: 3, counts: { train: 64, val: 16, test: 8 }, log: () => {} }));

// DALL·E's anneal (τ → 1/16), the Gumbel noise annealed to 0.2 of its scale, and a KL weight large enough to show
// in the gradients.
const options = (): VQTaskOptions => ({
  config: tinyVQConfig({ kind: "dvae" }),
  seed: 1,
  train: loadSplit(path.join(dir(), "shapes"), "train", 32),
  val: loadSplit(path.join(dir(), "shapes"), "val", 32),
  finalTemperature: 1 / 16,
  temperatureFraction: 0.1,
  finalNoise: 0.2,
  klWeight: 0.05,
  klWarmupFraction: 0.2,
});

describe("the dVAE task on the native engine", () => {
  // Step 3 at progress 0.05, where τ, the KL warm-up and the step's Gumbel noise all matter. Step 4's noise (its
  // seed differs) on the same batch and weights: a different sample, a different step.
  itMatchesTfjsStep({
    model: "dVAE",
    task: { options, createTask },
    draw: "noise",
    where: " mid-anneal",
    ortByDefault: false,
    at: { step: 3, progress: 0.05 },
    logs: { batchKl: 1e-5, kl: 1e-5, reconstruction: 1e-5 },
    prepare: (_task, ctx, o) => {
      const s = gumbelStep(o, { ...ctx, replica: 0 });
      expect(s.temperature).toBeGreaterThan(0.3);
      expect(s.temperature).toBeLessThan(0.8);
      expect(s.noiseScale).toBeCloseTo(s.temperature === 1 / 16 ? 0.2 : 0.2 + (0.8 * (s.temperature - 1 / 16)) / (1 - 1 / 16), 6);
      expect(s.noiseScale).toBeLessThan(1);
      expect(s.klWeight).toBeCloseTo(0.0125, 6);
    },
  });

  it("trains on ONNX Runtime by default: the loss falls", async () => {
    const o = options();
    const task = await createTask(o, "main");
    const out = path.join(dir(), "run");
    try {
      const r = await trainQuietly(
        task,
        {
          ...VQ_TRAINER_DEFAULTS,
          batchSize: 16,
          steps: 30,
          lr: 3e-3,
          warmup: 2,
          checkpointEvery: 1000,
          valEvery: 1000,
          logEvery: 1,
          workers: 1,
        },
        out,
        vqTaskDefinition(o),
      );
      expect(r.engine).toBe("ort");
      const rows = stepRows(out);
      expect(rows).toHaveLength(30);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      const recon = rows.map((row) => row.reconstruction);
      expect(mean(recon.slice(-5))).toBeLessThan(0.7 * mean(recon.slice(0, 5)));
    } finally {
      task.dispose();
    }
  });
});
