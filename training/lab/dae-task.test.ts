// The denoising autoencoder's training task on the shared loop at a tiny size (two workers: ORT threads by
// default): it learns to undo the corruption (its output beats the corrupted input on val), its metrics come from
// scoreDenoiser, and it is listed in the lab's table. The task's loss must compare the reconstruction with the clean image: compared with the
// corrupted one, the net learns the identity and the denoised PSNR stays at the noisy one.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Shard } from "../../lib/data/shard";
import { readCheckpointManifest } from "../../lib/model/checkpoint";
import { DEFAULT_DAE_CONFIG } from "../../lib/model/dae-config";
import { selectBackend } from "../../lib/tensor/backend";
import { registerFastGradients } from "../../lib/tensor/gradients";
import { shared } from "../loop/task";
import { train } from "../loop/trainer";
import { createTask, DAE_TRAINER_DEFAULTS, daeTaskDefinition, scoreDenoiser, type DAETaskOptions } from "./dae-task";
import { LAB_MODELS } from "./models";

let dir: string;
const sink = { write: () => true, isTTY: false } as unknown as NodeJS.WriteStream;
/** Flat-coloured squares on white: easy to tell from their noise. */
function shard(count: number, seed: number): Shard {
  const data = new Uint8Array(count * 32 * 32 * 3).fill(255);
  for (let i = 0; i < count; i++) {
    const x0 = 4 + ((i * 5 + seed) % 12);
    for (let y = 8; y < 24; y++) for (let x = x0; x < x0 + 14; x++) data.set([30, (i * 60) % 256, 200], ((i * 32 + y) * 32 + x) * 3);
  }
  return { count, height: 32, width: 32, channels: 3, data: shared(data) };
}

beforeAll(async () => {
  await selectBackend({ request: "wasm", log: { info() {}, warn() {} } });
  registerFastGradients();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "tessera-lab-dae-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("DAE task", () => {
  it("trains on the shared loop with two workers and denoises val better than the corrupted input", async () => {
    const o: DAETaskOptions = {
      config: { ...DEFAULT_DAE_CONFIG, widths: [8, 16], resBlocks: 0 },
      // Gaussian noise only, on every image: a clear target for a few dozen steps.
      corruption: { pClean: 0, maxSigma: 0.2, pSaltPepper: 0, maxSaltPepper: 0 },
      seed: 1,
      train: shard(64, 0),
      val: shard(16, 3),
      sheet: true,
    };
    const task = await createTask(o, "main");
    const before = tf.memory().numTensors;
    try {
      const outDir = path.join(dir, "run");
      const r = await train(
        task,
        {
          ...DAE_TRAINER_DEFAULTS,
          lr: 3e-3,
          batchSize: 16,
          steps: 150,
          warmup: 10,
          checkpointEvery: 150,
          valEvery: 150,
          logEvery: 50,
          workers: 2,
        },
        { outDir, dataHash: "test", definition: daeTaskDefinition(o), backend: "wasm", log: () => {}, progressStream: sink },
      );
      expect(Object.keys(r.metrics).sort()).toEqual(["valCleanPsnr", "valDenoisedPsnr", "valNoisyPsnr"]);
      const again = await scoreDenoiser((task as unknown as { model: Parameters<typeof scoreDenoiser>[0] }).model, o.val, o.corruption);
      expect(again.denoisedPsnr).toBeCloseTo(r.metrics.valDenoisedPsnr, 4);
      expect(r.metrics.valDenoisedPsnr).toBeGreaterThan(r.metrics.valNoisyPsnr + 1);
      expect(readCheckpointManifest(path.join(outDir, "model")).kind).toBe("dae");
      expect(fs.readdirSync(outDir).filter((f) => f.startsWith("sheet-"))).toEqual(["sheet-000150.png"]);
    } finally {
      task.dispose();
    }
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before);
  }, 120_000);

  it("is listed in the lab's table with a definition the loop can rebuild", async () => {
    const { labModel } = await LAB_MODELS.dae();
    const def = labModel.definition({ train: shard(4, 0), val: shard(2, 0), seed: 2, preset: "tiny", sheet: false });
    expect(def.module).toMatch(/dae-task\.ts$/);
    expect((def.options as DAETaskOptions).config.widths).toEqual([8, 16]);
  });
});
